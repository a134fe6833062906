using System.Globalization;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>Section <c>Lifecycle</c>: choices KooGallery's documentation leaves open, each in one place.</summary>
public sealed class LifecycleOptions
{
    public const string Section = "Lifecycle";

    /// <summary>
    /// Time zone of refreshInstance's <c>expireTime</c> (<c>yyyyMMddHHmmss</c>, zone unstated): Beijing time
    /// by default (§9 Q6). The raw value is always stored beside the instant it is taken to mean.
    /// </summary>
    public string ExpireTimeOffset { get; set; } = "+08:00";

    /// <summary>Time the tenant seam gets to answer changeInstanceCheck inside the callback budget.</summary>
    public TimeSpan ChangeCheckTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Answer when the tenant seam cannot answer in time: allow (default) or refuse the change.</summary>
    public bool ChangeCheckAllowOnTimeout { get; set; } = true;

    /// <summary>Pending work older than this is put on the queue again by the sweeper (outbox recovery).</summary>
    public TimeSpan RequeueAfter { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>First wait after a transient failure of life-cycle work; it doubles with each failure (with jitter).</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest wait between two attempts.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>
    /// How long transient failures (KooGallery's open API or the tenant API unreachable, 5xx, malformed
    /// answers) are retried before the instance is marked Failed for an operator. An outage shorter than
    /// this is only a wait: the instance stays in its state and queryInstance keeps answering 000004.
    /// </summary>
    public TimeSpan GiveUpAfter { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How long an instance's event-log lines are kept (purged by the retention timer).</summary>
    public TimeSpan EventRetention { get; set; } = TimeSpan.FromDays(365);

    /// <summary>The wait before attempt <paramref name="failures"/> + 1: base × 2^(failures−1), capped, times a jitter of 0.8–1.2.</summary>
    public TimeSpan RetryDelay(int failures, double jitter)
    {
        var exponential = RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Clamp(failures - 1, 0, 30));
        var capped = Math.Min(exponential, RetryMaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.8 + (0.4 * Math.Clamp(jitter, 0, 1))));
    }

    public TimeSpan ParsedExpireTimeOffset =>
        TimeSpan.TryParseExact(ExpireTimeOffset.TrimStart('+'), @"hh\:mm", CultureInfo.InvariantCulture, out var offset)
            ? (ExpireTimeOffset.StartsWith('-') ? -offset : offset)
            : throw new FormatException($"Lifecycle__ExpireTimeOffset '{ExpireTimeOffset}' is not ±hh:mm.");
}

internal sealed class LifecycleOptionsValidator : IValidateOptions<LifecycleOptions>
{
    public ValidateOptionsResult Validate(string? name, LifecycleOptions o)
    {
        var failures = new List<string>();
        try
        {
            if (o.ParsedExpireTimeOffset.Duration() > TimeSpan.FromHours(14))
            {
                failures.Add("Lifecycle__ExpireTimeOffset must be between -14:00 and +14:00.");
            }
        }
        catch (FormatException ex)
        {
            failures.Add(ex.Message);
        }

        if (o.ChangeCheckTimeout <= TimeSpan.Zero || o.ChangeCheckTimeout > TimeSpan.FromSeconds(3.5))
        {
            failures.Add("Lifecycle__ChangeCheckTimeout must be positive and leave room in the callback budget (at most 00:00:03.5).");
        }

        if (o.RequeueAfter < TimeSpan.FromMinutes(1))
        {
            failures.Add("Lifecycle__RequeueAfter must be at least one minute, or the sweeper would race the queue.");
        }

        if (o.RetryBaseDelay <= TimeSpan.Zero || o.RetryMaxDelay < o.RetryBaseDelay || o.RetryMaxDelay > TimeSpan.FromDays(6))
        {
            failures.Add("Lifecycle__RetryBaseDelay must be positive and at most Lifecycle__RetryMaxDelay, which must be at most 6 days (the queue's visibility limit is 7).");
        }

        if (o.EventRetention < TimeSpan.FromDays(1))
        {
            failures.Add("Lifecycle__EventRetention must be at least one day.");
        }

        if (o.GiveUpAfter < o.RetryBaseDelay)
        {
            failures.Add("Lifecycle__GiveUpAfter must be at least Lifecycle__RetryBaseDelay.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
