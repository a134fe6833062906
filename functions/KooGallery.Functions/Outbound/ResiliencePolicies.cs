using Microsoft.Extensions.Logging;
using Polly;
using Polly.Timeout;

namespace KooGallery.Functions.Outbound;

/// <summary>
/// The Polly policies every outbound client gets, outermost first: retry (exponential back-off with
/// jitter, honouring <c>Retry-After</c>) → circuit breaker → per-attempt timeout. Business answers (HTTP
/// 200 with an error code, 4xx other than 408/429) are never retried: repeating them cannot help.
/// </summary>
public static class ResiliencePolicies
{
    public static IAsyncPolicy<HttpResponseMessage> Retry(OutboundHttpOptions options, ILogger logger, string client) =>
        OutboundFailures.Transient()
            .WaitAndRetryAsync(
                options.MaxRetries,
                (attempt, outcome, _) => Delay(options, attempt, outcome.Result),
                (outcome, delay, attempt, _) =>
                {
                    logger.LogWarning(
                        "{Client} attempt {Attempt} failed ({Failure}); retrying in {DelayMs} ms.",
                        client, attempt, Describe(outcome), (int)delay.TotalMilliseconds);
                    return Task.CompletedTask;
                });

    public static IAsyncPolicy<HttpResponseMessage> CircuitBreaker(OutboundHttpOptions options, ILogger logger, string client) =>
        OutboundFailures.Transient()
            .CircuitBreakerAsync(
                options.BreakerFailures,
                options.BreakerDuration,
                (outcome, breakFor) => logger.LogError(
                    "{Client} circuit opened for {BreakSeconds} s after {Failures} consecutive failures (last: {Failure}).",
                    client, breakFor.TotalSeconds, options.BreakerFailures, Describe(outcome)),
                () => logger.LogInformation("{Client} circuit closed again.", client));

    public static IAsyncPolicy<HttpResponseMessage> AttemptTimeout(OutboundHttpOptions options) =>
        Policy.TimeoutAsync<HttpResponseMessage>(options.AttemptTimeout, TimeoutStrategy.Optimistic);

    /// <summary>A server's <c>Retry-After</c> when it sent one, else base × 2^(attempt−1) plus up to 25 % jitter; capped.</summary>
    internal static TimeSpan Delay(OutboundHttpOptions options, int attempt, HttpResponseMessage? response)
    {
        var retryAfter = response?.Headers.RetryAfter;
        TimeSpan? fromServer = retryAfter?.Delta ?? (retryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        if (fromServer is { } requested && requested > TimeSpan.Zero)
        {
            return requested < options.MaxRetryDelay ? requested : options.MaxRetryDelay;
        }

        var exponential = options.RetryBaseDelay * Math.Pow(2, attempt - 1);
        var jitter = exponential * (Random.Shared.NextDouble() * 0.25);
        var delay = exponential + jitter;
        return delay < options.MaxRetryDelay ? delay : options.MaxRetryDelay;
    }

    private static string Describe(DelegateResult<HttpResponseMessage> outcome) =>
        outcome.Exception is { } ex
            ? $"{ex.GetType().Name}{(ex is HttpRequestException h && h.HttpRequestError != HttpRequestError.Unknown ? ":" + h.HttpRequestError : string.Empty)}"
            : $"HTTP {(int)outcome.Result.StatusCode}";
}
