using System.Globalization;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>Section <c>Lifecycle</c>: choices the spec leaves open, each in one place.</summary>
public sealed class LifecycleOptions
{
    public const string Section = "Lifecycle";

    /// <summary>
    /// Time zone of refreshInstance's <c>expireTime</c> (<c>yyyyMMddHHmmss</c>, zone unstated): Beijing time
    /// by default (spec §9 Q6). The raw value is always stored beside the instant it is taken to mean.
    /// </summary>
    public string ExpireTimeOffset { get; set; } = "+08:00";

    /// <summary>Time the tenant seam gets to answer changeInstanceCheck inside the callback budget.</summary>
    public TimeSpan ChangeCheckTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Answer when the tenant seam cannot answer in time: allow (default) or refuse the change.</summary>
    public bool ChangeCheckAllowOnTimeout { get; set; } = true;

    /// <summary>Pending work older than this is put on the queue again by the sweeper (outbox recovery).</summary>
    public TimeSpan RequeueAfter { get; set; } = TimeSpan.FromMinutes(5);

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

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
