using Microsoft.Extensions.Options;

namespace KooGallery.Functions.DialTest;

/// <summary>
/// Section <c>DialTest</c>: the app dial-tests its own production address the way KooGallery does every
/// morning and afternoon. Off until <see cref="Url"/> is set.
/// </summary>
public sealed class DialTestOptions
{
    public const string Section = "DialTest";

    /// <summary>The timer's NCRONTAB schedule (UTC), an app setting the trigger names.</summary>
    public const string ScheduleSetting = "KooGalleryDialTestSchedule";

    /// <summary>
    /// The production address exactly as registered with KooGallery (e.g. <c>https://saas.example.com/api/koogallery</c>):
    /// the dial test goes out through DNS, TLS and whatever gateway or proxy stands in front, as KooGallery's does.
    /// Empty: no dial test.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>Play <c>upgradeInstance</c> (the product has specifications to upgrade to).</summary>
    public bool Upgrade { get; set; } = true;

    /// <summary>Play the licence callbacks (a licence-code product).</summary>
    public bool Licence { get; set; }

    /// <summary>Play a <c>tenantSync</c> and its deletion (a joint-operation product).</summary>
    public bool TenantSync { get; set; }

    /// <summary>An answer slower than this fails its case; KooGallery's own limit is 5 s.</summary>
    public TimeSpan AnswerBudget { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long a new dial-test instance may stay in provisioning (000004).</summary>
    public TimeSpan ReadyTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a run waits for its released instance's teardown before leaving the purge to the next run.</summary>
    public TimeSpan CleanupWait { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long run results are kept (the console's history strip shows 7 days).</summary>
    public TimeSpan History { get; set; } = TimeSpan.FromDays(7);

    public bool Enabled => !string.IsNullOrWhiteSpace(Url);
}

internal sealed class DialTestOptionsValidator : IValidateOptions<DialTestOptions>
{
    public ValidateOptionsResult Validate(string? name, DialTestOptions o)
    {
        var failures = new List<string>();
        if (o.Enabled && (!Uri.TryCreate(o.Url, UriKind.Absolute, out var url) || !(url.Scheme == Uri.UriSchemeHttps || (url.Scheme == Uri.UriSchemeHttp && url.IsLoopback))))
        {
            failures.Add("DialTest__Url must be the absolute https production address registered with KooGallery (http only on a loopback host), or empty to turn the dial test off.");
        }

        if (o.AnswerBudget <= TimeSpan.Zero || o.AnswerBudget > TimeSpan.FromSeconds(5))
        {
            failures.Add("DialTest__AnswerBudget must be positive and at most 00:00:05 (KooGallery's limit).");
        }

        if (o.ReadyTimeout < TimeSpan.FromSeconds(1) || o.ReadyTimeout > TimeSpan.FromMinutes(5))
        {
            failures.Add("DialTest__ReadyTimeout must be between 00:00:01 and 00:05:00.");
        }

        if (o.PollInterval <= TimeSpan.Zero || o.CleanupWait < TimeSpan.Zero || o.History < TimeSpan.FromDays(1))
        {
            failures.Add("DialTest__PollInterval must be positive, DialTest__CleanupWait not negative and DialTest__History at least 1.00:00:00.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
