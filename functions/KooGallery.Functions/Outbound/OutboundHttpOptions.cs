using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Outbound;

/// <summary>
/// Resilience of every outbound HTTP client (KooGallery open API, merchant tenant API), section
/// <c>OutboundHttp</c>. Only queue workers and timers call out, so retries here never eat into a
/// callback's 5-second budget; the queue is the outer retry once these are spent.
/// </summary>
public sealed class OutboundHttpOptions
{
    public const string Section = "OutboundHttp";

    /// <summary>Time one attempt may take, connection included.</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries after the first attempt, on network errors, timeouts, 5xx, 408 and 429.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>First back-off; doubles each retry, plus up to 25 % jitter.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Upper bound of any back-off, including a server's <c>Retry-After</c>.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Consecutive failed attempts that open the circuit.</summary>
    public int BreakerFailures { get; set; } = 5;

    /// <summary>How long an open circuit fails calls at once before letting one through.</summary>
    public TimeSpan BreakerDuration { get; set; } = TimeSpan.FromSeconds(30);
}

internal sealed class OutboundHttpOptionsValidator : IValidateOptions<OutboundHttpOptions>
{
    public ValidateOptionsResult Validate(string? name, OutboundHttpOptions o)
    {
        var failures = new List<string>();
        if (o.AttemptTimeout <= TimeSpan.Zero)
        {
            failures.Add("OutboundHttp__AttemptTimeout must be positive.");
        }

        if (o.MaxRetries is < 0 or > 10)
        {
            failures.Add("OutboundHttp__MaxRetries must be between 0 and 10.");
        }

        if (o.RetryBaseDelay < TimeSpan.Zero || o.MaxRetryDelay < o.RetryBaseDelay)
        {
            failures.Add("OutboundHttp__RetryBaseDelay must be non-negative and not above OutboundHttp__MaxRetryDelay.");
        }

        if (o.BreakerFailures < 2 || o.BreakerDuration <= TimeSpan.Zero)
        {
            failures.Add("OutboundHttp__BreakerFailures must be at least 2 and OutboundHttp__BreakerDuration positive.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
