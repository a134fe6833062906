using System.Runtime.Serialization;
using System.Security.Cryptography;
using System.Text;
using Azure;
using Azure.Data.Tables;
using KooGallery.Protocol.Wire;

namespace KooGallery.Functions.Instances;

/// <summary>
/// Everything about one instance lives in one partition (the instance id): the instance row, its
/// idempotency markers and its event log, so every change is one atomic same-partition transaction.
/// </summary>
public static class InstanceKeys
{
    /// <summary>
    /// Index partitions beside the instance partitions, so the console's questions are partition reads: '~' never
    /// starts an instance id (they are "kg" + hex), so an index partition is never an instance's.
    /// </summary>
    public const string OrderIndexPrefix = "~order|";
    public const string CustomerIndexPrefix = "~customer|";
    public const string FailedIndex = "~failed";

    /// <summary>Written once every instance row has its index rows (a backfill of rows from before the indexes).</summary>
    public const string IndexMarkerPartition = "~meta";
    public const string IndexMarkerRow = "index-v1";

    public static string OrderIndex(string orderId) => OrderIndexPrefix + Escape(orderId);

    public static string CustomerIndex(string customerId) => CustomerIndexPrefix + Escape(customerId);

    public const string InstanceRow = "instance";
    public const string EventPrefix = "event|";
    public const string MarkerPrefix = "applied|";
    public const string ChangePrefix = "change|";

    /// <summary>
    /// The instance id of an order line: derived from (orderId, orderLineId, productId) rather than the first
    /// <c>businessId</c> Huawei suggests, so that "is this order line known?" is the same single atomic insert
    /// that creates the instance — no separate index row that could be written without its instance.
    /// </summary>
    public static string InstanceId(string orderId, string? orderLineId, string? productId)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes($"{orderId}\n{orderLineId}\n{productId}"));
        return "kg" + Convert.ToHexStringLower(digest.AsSpan(0, 16));
    }

    /// <summary>
    /// Table keys may not contain / \ # ? or control characters; ids from KooGallery (or from a caller
    /// guessing) are escaped so any id gives a valid key and an unknown id is simply not found.
    /// </summary>
    public static string Escape(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var c in value)
        {
            if (c is '/' or '\\' or '#' or '?' or '%' || char.IsControl(c))
            {
                builder.Append('%').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static long sequence = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>
    /// A row key that sorts by time: <paramref name="prefix"/>, the UTC ticks, a sequence that keeps rows of the
    /// same tick written by this process in the order they were made, and a random part that keeps two
    /// processes apart.
    /// </summary>
    public static string TimeOrdered(string prefix, DateTimeOffset at)
    {
        var next = Interlocked.Increment(ref sequence) % 1_000_000_000_000;
        return $"{prefix}{at.UtcTicks:D19}|{next:D12}|{Guid.NewGuid():N}"[..(prefix.Length + 19 + 1 + 12 + 1 + 8)];
    }

    public static string Marker(string kind, params string?[] parts) => MarkerPrefix + kind + "|" + string.Join('|', parts.Select(p => Escape(p ?? "-")));
}

/// <summary>The instance row.</summary>
public sealed class InstanceEntity : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = InstanceKeys.InstanceRow;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string InstanceId { get; set; } = string.Empty;

    public string OrderId { get; set; } = string.Empty;

    public string? OrderLineId { get; set; }

    /// <summary>The productId of newInstance (pay-per-use: one instance per product of an order).</summary>
    public string? OrderProductId { get; set; }

    /// <summary>businessId of the first newInstance call.</summary>
    public string BusinessId { get; set; } = string.Empty;

    public bool IsTest { get; set; }

    public string State { get; set; } = nameof(InstanceState.Provisioning);

    /// <summary>Work for the tenant seam not yet done (outbox): provision, expiry, status, upgrade, release.</summary>
    public string PendingWork { get; set; } = string.Empty;

    /// <summary>
    /// When the pending work was last handed to the queue, or when its next retry is due; the sweeper
    /// queues it again once this is older than <c>Lifecycle__RequeueAfter</c>.
    /// </summary>
    public DateTimeOffset? PendingSince { get; set; }

    /// <summary>What KooGallery last asked for the tenant's status (freeze/unfreeze), applied once the tenant exists.</summary>
    public string DesiredStatus { get; set; } = DesiredStatuses.Active;

    public string? FailedWork { get; set; }

    public string? StateBeforeFailure { get; set; }

    public string? FailureReason { get; set; }

    public DateTimeOffset? FailedAt { get; set; }

    public string? LastError { get; set; }

    /// <summary>Failed attempts in the current run of transient failures (0 when the last attempt succeeded).</summary>
    public int WorkerAttempts { get; set; }

    /// <summary>First failure of the current run of transient failures: the give-up window counts from here.</summary>
    public DateTimeOffset? RetryingSince { get; set; }

    /// <summary>When the scheduled retry is due; until then other messages leave the outbound work alone.</summary>
    public DateTimeOffset? NextAttemptAt { get; set; }

    public string? FrontEndUrl { get; set; }

    public string? AdminUrl { get; set; }

    public string? UserName { get; set; }

    /// <summary>The initial password, encrypted (<see cref="Security.CredentialProtector"/>); decrypted only to answer queryInstance.</summary>
    public string? PasswordProtected { get; set; }

    public string? Memo { get; set; }

    public string? CustomerId { get; set; }

    public string? ChargingMode { get; set; }

    public string? ProductId { get; set; }

    public string? SkuCode { get; set; }

    public double? LinearValue { get; set; }

    /// <summary>Expiry as KooGallery sent it (refreshInstance <c>yyyyMMddHHmmss</c>, or the order's UTC form).</summary>
    public string? ExpireTime { get; set; }

    /// <summary>The instant <see cref="ExpireTime"/> means, using the configured time zone.</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    public string? LastRefreshOrderId { get; set; }

    public string? LastRefreshScene { get; set; }

    /// <summary>The unsubscription order that caused releaseInstance, if any.</summary>
    public string? ReleaseOrderId { get; set; }

    public string? PendingUpgradeOrderId { get; set; }

    public string? PendingUpgradeOrderLineId { get; set; }

    /// <summary>Incremented by every freeze/unfreeze, so each status change has its own idempotency key.</summary>
    public int StatusVersion { get; set; }

    /// <summary>Incremented when a released debug instance is provisioned again.</summary>
    public int Generation { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public DateTimeOffset? ReadyAt { get; set; }

    public DateTimeOffset? ReleasedAt { get; set; }

    /// <summary>The state and customer as last read from or written to storage: what the index rows already say.</summary>
    [IgnoreDataMember]
    public string? StateAsStored { get; set; }

    [IgnoreDataMember]
    public string? CustomerIdAsStored { get; set; }

    /// <summary>Read from or written to storage by this process (else what the index rows say is unknown).</summary>
    [IgnoreDataMember]
    public bool IsStored => StateAsStored is not null;

    [IgnoreDataMember]
    public InstanceState CurrentState => Enum.Parse<InstanceState>(State);

    [IgnoreDataMember]
    public bool HasAppInfo => !string.IsNullOrEmpty(FrontEndUrl);

    /// <summary>Released, or on its way there (a release that gave up is still a release).</summary>
    [IgnoreDataMember]
    public bool IsReleased =>
        CurrentState is InstanceState.Releasing or InstanceState.Released
        || (CurrentState == InstanceState.Failed && StateBeforeFailure is nameof(InstanceState.Releasing) or nameof(InstanceState.Released));

    /// <summary>The login data for queryInstance, with the password decrypted.</summary>
    public AppInfo? LoginData(Security.CredentialProtector protector) =>
        string.IsNullOrEmpty(FrontEndUrl)
            ? null
            : new AppInfo(FrontEndUrl, AdminUrl, UserName, PasswordProtected is null ? null : protector.Unprotect(PasswordProtected, InstanceId), Memo);

    /// <summary>Forgets a failure: the instance is going back to work (re-drive) or away (release).</summary>
    public void ClearFailure()
    {
        FailedWork = null;
        FailureReason = null;
        StateBeforeFailure = null;
        FailedAt = null;
        ResetRetries();
    }

    /// <summary>Clears the state of a run of transient failures once work succeeds (or an operator steps in).</summary>
    public void ResetRetries()
    {
        WorkerAttempts = 0;
        RetryingSince = null;
        NextAttemptAt = null;
        LastError = null;
    }

    [IgnoreDataMember]
    public IReadOnlySet<string> Pending => PendingWork.Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);

    public void AddPending(string work, DateTimeOffset now)
    {
        var pending = Pending.ToHashSet(StringComparer.Ordinal);
        if (pending.Add(work))
        {
            PendingWork = string.Join(',', pending.Order(StringComparer.Ordinal));
        }

        PendingSince ??= now;
    }

    public void RemovePending(string work)
    {
        var pending = Pending.Where(p => p != work).Order(StringComparer.Ordinal).ToList();
        PendingWork = string.Join(',', pending);
        if (pending.Count == 0)
        {
            PendingSince = null;
        }
    }
}

public static class DesiredStatuses
{
    public const string Active = "active";
    public const string Frozen = "frozen";
}

/// <summary>
/// A change KooGallery asked for (renewal, freeze, unfreeze, upgrade, release), recorded by the callback
/// as an insert-only row of the instance's partition and applied, in the order received, by the worker.
/// Callbacks never read-modify-write the instance row, so any number of concurrent changes are all
/// recorded and answered 000000; the worker is the only writer of the state they lead to.
/// </summary>
public sealed class InstanceChangeEntity : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>An <see cref="InstanceCommand"/> name: Freeze, Unfreeze, Refresh, Upgrade or Release.</summary>
    public string Command { get; set; } = string.Empty;

    public string Activity { get; set; } = string.Empty;

    public DateTimeOffset ReceivedAt { get; set; }

    public string? OrderId { get; set; }

    public string? OrderLineId { get; set; }

    public string? Scene { get; set; }

    public string? ExpireTime { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public string? ProductId { get; set; }

    public string? Detail { get; set; }

    [IgnoreDataMember]
    public InstanceCommand CurrentCommand => Enum.Parse<InstanceCommand>(Command);

    /// <summary>Sortable by arrival, so the worker applies changes in the order KooGallery's calls came in.</summary>
    public static string RowKeyFor(DateTimeOffset receivedAt) => InstanceKeys.TimeOrdered(InstanceKeys.ChangePrefix, receivedAt);
}

/// <summary>One line of an instance's append-only event log.</summary>
public sealed class InstanceEventEntity : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    /// <summary>callback, state-changed, worker-succeeded, worker-failed, gave-up, redriven, requeued.</summary>
    public string Kind { get; set; } = string.Empty;

    public DateTimeOffset At { get; set; }

    public string? Activity { get; set; }

    public string? OrderId { get; set; }

    public string? FromState { get; set; }

    public string? ToState { get; set; }

    public string? Detail { get; set; }
}

/// <summary>Marks an order (renewal scene, upgrade) as applied to an instance, so a repeat changes nothing.</summary>
public sealed class AppliedMarkerEntity : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public DateTimeOffset AppliedAt { get; set; }
}
