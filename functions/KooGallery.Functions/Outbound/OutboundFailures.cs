using System.Net;
using Polly;
using Polly.CircuitBreaker;
using Polly.Extensions.Http;
using Polly.Timeout;

namespace KooGallery.Functions.Outbound;

/// <summary>
/// What counts as a transient failure of an outbound call, in one place: the retry and circuit-breaker
/// policies handle exactly these, and the clients classify their exceptions with the same rules, so "retried
/// here" and "worth retrying later from the queue" can never disagree.
/// </summary>
public static class OutboundFailures
{
    /// <summary>Network errors, per-attempt timeouts, 5xx, 408 and 429.</summary>
    public static PolicyBuilder<HttpResponseMessage> Transient() =>
        HttpPolicyExtensions.HandleTransientHttpError()
            .OrResult(r => r.StatusCode == HttpStatusCode.TooManyRequests)
            .Or<TimeoutRejectedException>();

    /// <summary>An HTTP status that may succeed on a later try: 5xx, 408 and 429.</summary>
    public static bool IsTransientStatus(int status) => status >= 500 || status is 408 or 429;

    /// <summary>
    /// The call got no answer at all once the policies were spent: network error, attempt timeout, open
    /// circuit, or HttpClient's own timeout (a cancellation the caller did not ask for).
    /// </summary>
    public static bool IsUnanswered(Exception ex, CancellationToken callerToken) =>
        ex is HttpRequestException or TimeoutRejectedException or BrokenCircuitException
        || (ex is TaskCanceledException && !callerToken.IsCancellationRequested);
}
