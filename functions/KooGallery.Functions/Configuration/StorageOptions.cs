using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Configuration;

/// <summary>
/// Names of the tables and queues the app uses (section <c>Storage</c>). The account itself is the
/// Functions host's <c>AzureWebJobsStorage</c>, by connection string or by identity.
/// </summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>Nonces of accepted callbacks, for replay protection.</summary>
    public string NonceTable { get; set; } = "KooGalleryNonces";

    /// <summary>Tenants of the built-in provisioner.</summary>
    public string TenantTable { get; set; } = "KooGalleryTenants";

    /// <summary>Instances, their event logs and idempotency markers.</summary>
    public string InstanceTable { get; set; } = "KooGalleryInstances";

    /// <summary>
    /// The life-cycle work queue. Bound from the flat app setting <c>KooGalleryLifecycleQueue</c> because the
    /// queue triggers name it as <c>%KooGalleryLifecycleQueue%</c>, which the Functions host resolves itself.
    /// </summary>
    public string LifecycleQueue { get; set; } = DefaultLifecycleQueue;

    public const string LifecycleQueueSetting = "KooGalleryLifecycleQueue";
    public const string DefaultLifecycleQueue = "koogallery-lifecycle";

    /// <summary>Usage rows (the push outbox) and record-id markers of pay-per-use instances.</summary>
    public string UsageTable { get; set; } = "KooGalleryUsage";

    /// <summary>Queue the merchant's SaaS may write usage records to; flat setting <c>KooGalleryUsageQueue</c>, as for the lifecycle queue.</summary>
    public string UsageQueue { get; set; } = DefaultUsageQueue;

    public const string UsageQueueSetting = "KooGalleryUsageQueue";
    public const string DefaultUsageQueue = "koogallery-usage";

    /// <summary>Joint-operation kit syncs: tenants, their applications, authorised users and organisation trees.</summary>
    public string JointTable { get; set; } = "KooGalleryJointOperation";

    /// <summary>Licence codes (licence-code products), their event logs and idempotency markers.</summary>
    public string LicenseTable { get; set; } = "KooGalleryLicenses";

    /// <summary>
    /// Queue of licence changes to tell the merchant's systems about; flat setting <c>KooGalleryLicenseQueue</c>,
    /// as for the lifecycle queue.
    /// </summary>
    public string LicenseQueue { get; set; } = DefaultLicenseQueue;

    public const string LicenseQueueSetting = "KooGalleryLicenseQueue";
    public const string DefaultLicenseQueue = "koogallery-licenses";

    /// <summary>Joint-operation syncs to tell the merchant's systems about; flat setting <c>KooGalleryKitQueue</c>.</summary>
    public string KitQueue { get; set; } = DefaultKitQueue;

    public const string KitQueueSetting = "KooGalleryKitQueue";
    public const string DefaultKitQueue = "koogallery-kit-syncs";

    /// <summary>The time index: what is due when (life-cycle checks, usage hours to push, retention).</summary>
    public string ScheduleTable { get; set; } = "KooGallerySchedule";

    /// <summary>What operators watch: failed orders per month (written only when a callback fails) and callback counts per hour.</summary>
    public string OperationsTable { get; set; } = "KooGalleryOperations";

    /// <summary>
    /// Create missing tables and queues in the background after start (local runs), and again when storage says one
    /// is missing (<see cref="Storage.StorageCreationPolicy"/>). The Bicep creates them once per deployment and turns
    /// this off, so a start in Azure makes no storage call.
    /// </summary>
    public bool CreateAtStart { get; set; } = true;

    /// <summary>Every table the app needs, created at start when missing.</summary>
    public IEnumerable<string> Tables => [NonceTable, TenantTable, InstanceTable, UsageTable, ScheduleTable, LicenseTable, JointTable, OperationsTable];

    /// <summary>Every queue the app needs (with the host's -poison twins), created at start when missing.</summary>
    public IEnumerable<string> Queues => [LifecycleQueue, LifecycleQueue + "-poison", UsageQueue, UsageQueue + "-poison", LicenseQueue, LicenseQueue + "-poison", KitQueue, KitQueue + "-poison"];
}

internal sealed partial class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var failures = new List<string>();
        var bad = options.Tables.Where(t => !TableName().IsMatch(t ?? string.Empty)).ToList();
        if (bad.Count > 0)
        {
            failures.Add($"Invalid table name(s) under Storage__*: {string.Join(", ", bad.Select(b => $"'{b}'"))} (letters and digits, 3–63, starting with a letter).");
        }

        // 56 leaves room for the "-poison" suffix within the 63-character limit.
        foreach (var (setting, queue) in new[] { (StorageOptions.LifecycleQueueSetting, options.LifecycleQueue), (StorageOptions.UsageQueueSetting, options.UsageQueue), (StorageOptions.LicenseQueueSetting, options.LicenseQueue), (StorageOptions.KitQueueSetting, options.KitQueue) })
        {
            if (!QueueName().IsMatch(queue ?? string.Empty) || queue!.Contains("--", StringComparison.Ordinal))
            {
                failures.Add($"Invalid queue name '{queue}' in {setting} (lower-case letters, digits and single hyphens, 3–56).");
            }
        }

        if (new[] { options.LifecycleQueue, options.UsageQueue, options.LicenseQueue, options.KitQueue }.Distinct(StringComparer.Ordinal).Count() < 4)
        {
            failures.Add($"{StorageOptions.LifecycleQueueSetting}, {StorageOptions.UsageQueueSetting}, {StorageOptions.LicenseQueueSetting} and {StorageOptions.KitQueueSetting} must name different queues.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9]{2,62}\z")]
    private static partial Regex TableName();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{1,54}[a-z0-9]\z")]
    private static partial Regex QueueName();
}
