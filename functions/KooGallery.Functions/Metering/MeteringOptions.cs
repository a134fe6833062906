using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>Section <c>Metering</c>: pay-per-use usage intake and push (§1.4, §5.9.3).</summary>
public sealed class MeteringOptions
{
    public const string Section = "Metering";

    /// <summary>
    /// Timer schedule of the push job, as the flat app setting <c>KooGalleryUsagePushSchedule</c> (the timer
    /// trigger reads it as <c>%KooGalleryUsagePushSchedule%</c>). Default: 5 minutes past every hour, inside
    /// the first 15 minutes KooGallery asks for.
    /// </summary>
    public const string ScheduleSetting = "KooGalleryUsagePushSchedule";

    public const string DefaultSchedule = "0 5 * * * *";

    /// <summary>Products billed per day rather than per hour (their usage rows cover a UTC+8 calendar day).</summary>
    public List<string> DailyBilledProducts { get; set; } = [];

    /// <summary>Rows still unsent this long after their period ended raise a warning and the unsent-usage metric.</summary>
    public TimeSpan UnsentAlertAge { get; set; } = TimeSpan.FromHours(2);

    /// <summary>How long a push run holds the rows it is sending before another run may take them.</summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Records per intake call (HTTP or queue message).</summary>
    public int MaxRecordsPerIntake { get; set; } = 1000;

    /// <summary>
    /// Usage that began longer ago than this is refused: too late to bill (KooGallery bills hourly usage within
    /// hours and daily usage by the next morning), and older than a record id is sure to be remembered.
    /// </summary>
    public TimeSpan MaxRecordAge { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// KooGallery result codes that may refuse a usage push for something in it rather than for the request
    /// (see docs/protocol.md, "Usage push answers"): such a batch is halved until the refused rows stand alone.
    /// Every other refusal — gateway and signature errors, throttling, KooGallery's internal error, unknown codes
    /// — is about the request, and leaves the rows untouched for the next run. Empty means the default,
    /// <c>92020002</c> (invalid parameter).
    /// </summary>
    public List<string> RowLevelResultCodes { get; set; } = [];

    /// <summary>The codes in force: <see cref="RowLevelResultCodes"/>, or <c>92020002</c> when none are set.</summary>
    public IReadOnlyCollection<string> EffectiveRowLevelResultCodes =>
        RowLevelResultCodes.Where(c => !string.IsNullOrWhiteSpace(c)).ToHashSet(StringComparer.Ordinal) is { Count: > 0 } codes ? codes : new HashSet<string>(StringComparer.Ordinal) { "92020002" };

    /// <summary>How long sent, rejected and debug usage rows and their record-id markers are kept (at least 35 days).</summary>
    public TimeSpan SentRetention { get; set; } = TimeSpan.FromDays(35);
}

internal sealed class MeteringOptionsValidator : IValidateOptions<MeteringOptions>
{
    public ValidateOptionsResult Validate(string? name, MeteringOptions o)
    {
        var failures = new List<string>();
        if (o.UnsentAlertAge < TimeSpan.FromMinutes(15))
        {
            failures.Add("Metering__UnsentAlertAge must be at least 00:15:00.");
        }

        if (o.LeaseDuration < TimeSpan.FromMinutes(1))
        {
            failures.Add("Metering__LeaseDuration must be at least 00:01:00 (a push batch must finish within it).");
        }

        if (o.MaxRecordsPerIntake is < 1 or > 5000)
        {
            failures.Add("Metering__MaxRecordsPerIntake must be between 1 and 5000.");
        }

        if (o.MaxRecordAge < TimeSpan.FromHours(1))
        {
            failures.Add("Metering__MaxRecordAge must be at least 01:00:00.");
        }

        if (o.SentRetention < TimeSpan.FromDays(35))
        {
            failures.Add("Metering__SentRetention must be at least 35 days (35.00:00:00): a month of sent usage is kept for reconciliation.");
        }

        if (o.MaxRecordAge >= o.SentRetention)
        {
            failures.Add("Metering__MaxRecordAge must be shorter than Metering__SentRetention, or a record sent again could outlive the memory of its id and be counted twice.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
