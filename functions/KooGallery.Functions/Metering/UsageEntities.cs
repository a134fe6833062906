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
    /// <summary>Collecting records; the only state in which a row's value may grow.</summary>
    public const string Pending = "pending";

    /// <summary>
    /// Sealed and offered to KooGallery under its <c>metering_sn</c>: the value never changes again, whatever
    /// the push's outcome (a timeout may hide a push KooGallery recorded). Sent again as it is until KooGallery
    /// accepts or refuses it; later records open the next sequence.
    /// </summary>
    public const string Offered = "offered";

    /// <summary>Accepted by KooGallery.</summary>
    public const string Sent = "sent";

    /// <summary>Refused by KooGallery for this row alone, with the reason; alerted, listed, re-drivable by an operator.</summary>
    public const string Rejected = "rejected";

    /// <summary>Usage of a debug instance (<c>testFlag=1</c>): accepted and reported, never sent to KooGallery.</summary>
    public const string Debug = "debug";

    /// <summary>Final states: nothing more will be sent for the row unless an operator re-drives a rejected one.</summary>
    public static bool IsFinal(string status) => status is Sent or Rejected or Debug;

    /// <summary>States whose value is fixed: a late record for the same period opens the next sequence.</summary>
    public static bool IsSealed(string status) => status is not (Pending or Debug);
}

/// <summary>
/// One usage row: all accepted usage of one instance in one billing period (hour, or day for products billed
/// daily), for one package instance. Rows live in the partition of the hour their period ends
/// (<see cref="PartitionFor"/>), with the record-id markers of that period beside them: a record and its
/// marker are one transaction, a push run takes a whole hour's due rows with one query and seals and marks
/// them a hundred at a time, and retention drops whole old partitions. A period's row takes records until a
/// push seals it (<see cref="UsageStatus.Offered"/>); later records open the next sequence, with its own
/// <c>metering_sn</c>, so nothing is dropped and nothing KooGallery may have seen ever changes.
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

    /// <summary>When a push run sealed the row to offer it, and which run (so a run knows its own seal when a retried write reports a conflict).</summary>
    public DateTimeOffset? OfferedAt { get; set; }

    public string? OfferedBy { get; set; }

    /// <summary>The operator who last re-drove the row after KooGallery refused it, and when.</summary>
    public string? RedrivenBy { get; set; }

    public DateTimeOffset? RedrivenAt { get; set; }

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
/// One row per hour partition that holds usage (table <c>Storage__ScheduleTable</c>, partition
/// <c>usage-hours</c>). <see cref="Open"/> is set before and again after intake creates a row that needs
/// pushing, and by an operator's re-drive; the push run closes it, under the ETag it read before reading the
/// hour's rows, once every row it read is final. Any write in between changes the ETag and keeps the hour
/// open, so no row can be left behind in a closed hour. Only intake and the close write this row: the push's
/// lease and tallies live apart (<see cref="UsageHourRunEntity"/>), so intake never stalls a push.
/// Debug-only hours get a closed row, so retention finds them.
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
}

/// <summary>
/// The push's side of an hour (schedule table, partition <c>usage-hour-runs</c>, written only by push runs):
/// the lease that keeps two overlapping runs off the same hour, and what the runs did there — the bounded
/// per-hour figures the console reads instead of the usage rows.
/// </summary>
public sealed class UsageHourRunEntity : ITableEntity
{
    public const string Partition = "usage-hour-runs";

    public string PartitionKey { get; set; } = Partition;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>The push run sending this hour, until <see cref="LeaseUntil"/>.</summary>
    public string? LeaseOwner { get; set; }

    public DateTimeOffset? LeaseUntil { get; set; }

    /// <summary>Rows KooGallery accepted, and their usage (invariant decimal).</summary>
    public int SentRows { get; set; }

    public string SentValue { get; set; } = "0";

    /// <summary>Rows KooGallery refused on their own (re-drives start them again).</summary>
    public int RejectedRows { get; set; }

    /// <summary>Rows the last run left unsent (offered or pending).</summary>
    public int WaitingRows { get; set; }

    public DateTimeOffset? LastRunAt { get; set; }

    /// <summary>Why the last run left rows unsent, when it did.</summary>
    public string? LastError { get; set; }
}

/// <summary>
/// Points at a usage row KooGallery refused (schedule table, partition <c>usage-rejected</c>): written before the
/// row is marked, removed once an operator's re-drive has put the row back in the push's way. Listing refused
/// usage is then one partition read, never a scan of the usage table.
/// </summary>
public sealed class UsageRejectedEntity : ITableEntity
{
    public const string Partition = "usage-rejected";

    public string PartitionKey { get; set; } = Partition;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string UsagePartition { get; set; } = string.Empty;

    public string UsageRowKey { get; set; } = string.Empty;

    public string InstanceId { get; set; } = string.Empty;

    public DateTimeOffset PeriodStart { get; set; }

    public string? RelatePackageInstance { get; set; }

    public string UsageValue { get; set; } = "0";

    public string MeteringSn { get; set; } = string.Empty;

    public string? ResultCode { get; set; }

    public string? ResultMsg { get; set; }

    public DateTimeOffset RejectedAt { get; set; }

    public static string RowKeyFor(UsageRowEntity row) => InstanceKeys.Escape(row.PartitionKey + "|" + row.RowKey);
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
