using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;

namespace KooGallery.Functions.Metering;

public static class UsageStatus
{
    /// <summary>Collecting records, or waiting for the next push run.</summary>
    public const string Pending = "pending";

    /// <summary>Leased by a push run that is sending it.</summary>
    public const string Sending = "sending";

    /// <summary>Accepted by KooGallery.</summary>
    public const string Sent = "sent";
}

/// <summary>
/// One usage row: all accepted usage of one instance in one billing period (hour, or day for products
/// billed daily), for one package instance. This is the outbox the push job empties. A period's row is
/// closed once sent; late records for it open the next sequence, so nothing is dropped and nothing that
/// KooGallery accepted is changed.
/// </summary>
public sealed class UsageRowEntity : ITableEntity
{
    public const string Prefix = "usage|";

    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string InstanceId { get; set; } = string.Empty;

    public DateTimeOffset PeriodStart { get; set; }

    public DateTimeOffset PeriodEnd { get; set; }

    public int Sequence { get; set; }

    public string? RelatePackageInstance { get; set; }

    /// <summary>Decimal usage, invariant culture (a double would lose the 4th decimal on large sums).</summary>
    public string UsageValue { get; set; } = "0";

    public int RecordCount { get; set; }

    public string MeteringSn { get; set; } = string.Empty;

    public string Status { get; set; } = UsageStatus.Pending;

    public string? LeaseOwner { get; set; }

    public DateTimeOffset? LeaseUntil { get; set; }

    public int PushAttempts { get; set; }

    public string? LastError { get; set; }

    public string? KooGalleryResultCode { get; set; }

    public string? KooGalleryResultMsg { get; set; }

    public DateTimeOffset? SentAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public decimal Value => decimal.Parse(UsageValue, NumberStyles.Number, CultureInfo.InvariantCulture);

    public static string RowKeyFor(DateTimeOffset periodStart, string? package, int sequence) =>
        $"{Prefix}{periodStart.UtcDateTime:yyyyMMddHH}|{Instances.InstanceKeys.Escape(package ?? "-")}|{sequence:D4}";

    public static string RowKeyPrefix(DateTimeOffset periodStart, string? package) =>
        $"{Prefix}{periodStart.UtcDateTime:yyyyMMddHH}|{Instances.InstanceKeys.Escape(package ?? "-")}|";

    /// <summary>
    /// Deterministic per row: a re-push of the same row (after a crash, or a push whose answer was lost)
    /// carries the same <c>metering_sn</c>, which KooGallery de-duplicates (spec §5.9.3).
    /// </summary>
    public static string MeteringSnFor(string instanceId, DateTimeOffset periodStart, string? package, int sequence)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes($"{instanceId}\n{periodStart.UtcDateTime:yyyyMMddHH}\n{package}\n{sequence}"));
        return "kgu" + Convert.ToHexStringLower(digest.AsSpan(0, 20));
    }
}

/// <summary>Remembers a record id, so the same record sent twice is counted once.</summary>
public sealed class UsageRecordMarker : ITableEntity
{
    public const string Prefix = "record|";

    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string UsageRowKey { get; set; } = string.Empty;

    public DateTimeOffset AcceptedAt { get; set; }
}
