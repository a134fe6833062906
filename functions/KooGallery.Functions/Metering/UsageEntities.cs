using System.Globalization;
using System.Runtime.Serialization;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Instances;

namespace KooGallery.Functions.Metering;

public static class UsageStatus
{
    /// <summary>Collecting records, or waiting for the next push run.</summary>
    public const string Pending = "pending";

    /// <summary>Accepted by KooGallery.</summary>
    public const string Sent = "sent";

    /// <summary>Refused by KooGallery for a business reason, isolated from its batch; alerted, never sent again by itself.</summary>
    public const string Rejected = "rejected";

    /// <summary>Usage of a debug instance (<c>testFlag=1</c>): accepted and reported, never sent to KooGallery.</summary>
    public const string Debug = "debug";

    /// <summary>Final states: nothing more will be sent for the row.</summary>
    public static bool IsFinal(string status) => status is Sent or Rejected or Debug;
}

/// <summary>
/// One usage row: all accepted usage of one instance in one billing period (hour, or day for products billed
/// daily), for one package instance. Rows live in the partition of the hour their period ends
/// (<see cref="PartitionFor"/>), with the record-id markers of that period beside them: a record and its
/// marker are one transaction, a push run takes a whole hour's due rows with one query and leases and marks
/// them a hundred at a time, and retention drops whole old partitions. A period's row takes records until it
/// is sent; late records then open the next sequence, so nothing is dropped and nothing that KooGallery
/// accepted is changed.
/// </summary>
public sealed class UsageRowEntity : ITableEntity
{
    public const string PartitionPrefix = "usage|";
    public const string RowPrefix = "row|";

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

    public int PushAttempts { get; set; }

    public string? LastError { get; set; }

    public string? KooGalleryResultCode { get; set; }

    public string? KooGalleryResultMsg { get; set; }

    public DateTimeOffset? SentAt { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    [IgnoreDataMember]
    public decimal Value => decimal.Parse(UsageValue, NumberStyles.Number, CultureInfo.InvariantCulture);

    /// <summary>The hour partition of rows whose period ends at <paramref name="periodEnd"/>.</summary>
    public static string PartitionFor(DateTimeOffset periodEnd) => PartitionPrefix + HourKey(periodEnd);

    /// <summary><c>yyyyMMddHH</c> of the UTC hour containing <paramref name="at"/>.</summary>
    public static string HourKey(DateTimeOffset at) => at.UtcDateTime.ToString("yyyyMMddHH", CultureInfo.InvariantCulture);

    public static string RowKeyFor(string instanceId, DateTimeOffset periodStart, string? package, int sequence) =>
        $"{RowKeyPrefix(instanceId, periodStart, package)}{sequence:D4}";

    /// <summary>All sequences of one instance, period and package.</summary>
    public static string RowKeyPrefix(string instanceId, DateTimeOffset periodStart, string? package) =>
        $"{RowPrefix}{InstanceKeys.Escape(instanceId)}|{periodStart.UtcDateTime:yyyyMMddHH}|{InstanceKeys.Escape(package ?? "-")}|";

    /// <summary>
    /// Deterministic per row: a re-push of the same row (after a crash, or a push whose answer was lost)
    /// carries the same <c>metering_sn</c>, which KooGallery de-duplicates (§5.9.3).
    /// </summary>
    public static string MeteringSnFor(string instanceId, DateTimeOffset periodStart, string? package, int sequence)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes($"{instanceId}\n{periodStart.UtcDateTime:yyyyMMddHH}\n{package}\n{sequence}"));
        return "kgu" + Convert.ToHexStringLower(digest.AsSpan(0, 20));
    }
}

/// <summary>
/// Remembers a record id, so the same record sent twice is counted once. It lives in the partition of the
/// record's billing period, so the record id is unique per instance and period.
/// </summary>
public sealed class UsageRecordMarker : ITableEntity
{
    public const string Prefix = "record|";

    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string UsageRowKey { get; set; } = string.Empty;

    public DateTimeOffset AcceptedAt { get; set; }

    public static string RowKeyFor(string instanceId, string recordId) => $"{Prefix}{InstanceKeys.Escape(instanceId)}|{InstanceKeys.Escape(recordId)}";
}

/// <summary>
/// One row per hour partition that may hold rows to push (table <c>Storage__ScheduleTable</c>, partition
/// <c>usage-hours</c>): written before a row that needs pushing is created, closed by the push run once
/// nothing in that hour is left to send. The push run reads these few rows instead of the usage table, and
/// leases an hour here (ETag) before sending its rows, so two overlapping runs never send the same hour.
/// </summary>
public sealed class UsageHourEntity : ITableEntity
{
    public const string Partition = "usage-hours";

    public string PartitionKey { get; set; } = Partition;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>True while the hour may hold rows that are not final.</summary>
    public bool Open { get; set; }

    /// <summary>When intake last opened a row in this hour.</summary>
    public DateTimeOffset? OpenedAt { get; set; }

    /// <summary>The push run sending this hour, until <see cref="LeaseUntil"/>.</summary>
    public string? LeaseOwner { get; set; }

    public DateTimeOffset? LeaseUntil { get; set; }
}

/// <summary>
/// A usage batch the queue gave up on (schedule table, partition <c>usage-parked</c>): its body and the
/// reason, for an operator to read and re-drive (records carry deterministic ids, so a re-drive counts
/// nothing twice).
/// </summary>
public sealed class ParkedUsageEntity : ITableEntity
{
    public const string Partition = "usage-parked";

    public string PartitionKey { get; set; } = Partition;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string MessageId { get; set; } = string.Empty;

    public string Body { get; set; } = string.Empty;

    public string Reason { get; set; } = string.Empty;

    public long DequeueCount { get; set; }

    public DateTimeOffset ParkedAt { get; set; }
}
