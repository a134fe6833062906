using System.Globalization;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Operations;

/// <summary>
/// KooGallery's delisting count, as far as the app can see it: an order is a failed order of a month once
/// any of its callbacks was answered with a failure code or later than KooGallery's 5 seconds. One small
/// row per failed order in table <c>Storage__OperationsTable</c>, one partition per month in KooGallery's
/// time zone (<c>Lifecycle__ExpireTimeOffset</c>), written only when a callback fails — insert-only, so the
/// first failure of an order is the one kept and a second one costs nothing to count. Reading a month is one
/// partition, never a scan of the callbacks.
/// </summary>
public sealed class FailedOrderLedger(
    TableServiceClient tables,
    IOptions<StorageOptions> names,
    IOptionsMonitor<LifecycleOptions> lifecycle)
{
    /// <summary>KooGallery's rule: more than this many failed orders in a month can delist the product.</summary>
    public const int DelistingThreshold = 5;

    /// <summary>KooGallery's timeout: an answer later than this is a failure whatever it says.</summary>
    public static readonly TimeSpan KooGalleryTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Partitions are <c>failed-orders|yyyy-MM</c>; the table also holds <see cref="CallbackCounters"/>' hours.</summary>
    public const string PartitionPrefix = "failed-orders|";

    private TableClient Table => tables.GetTableClient(names.Value.OperationsTable);

    /// <summary>True when KooGallery counts this answer as a failed order: not <c>000000</c> (nor <c>000004</c>, "still provisioning"), or too late.</summary>
    public static bool IsFailure(string resultCode, TimeSpan elapsed) =>
        elapsed > KooGalleryTimeout || (resultCode != "000000" && resultCode != "000004");

    /// <summary>The month (<c>yyyy-MM</c>) an instant falls in, in KooGallery's time zone.</summary>
    public string MonthOf(DateTimeOffset at) =>
        at.ToOffset(lifecycle.CurrentValue.ParsedExpireTimeOffset).ToString("yyyy-MM", CultureInfo.InvariantCulture);

    /// <summary>Records the order's first failure of the month; later failures of the same order are already counted.</summary>
    /// <returns>True when this call made the order count.</returns>
    public async Task<bool> RecordAsync(FailedCallback failure, CancellationToken cancellationToken)
    {
        var entity = new FailedOrderEntity
        {
            PartitionKey = PartitionPrefix + MonthOf(failure.At),
            RowKey = InstanceKeys.Escape(failure.OrderId),
            OrderId = failure.OrderId,
            InstanceId = failure.InstanceId,
            Activity = failure.Activity,
            ResultCode = failure.ResultCode,
            Reason = failure.Reason is { Length: > 255 } reason ? reason[..255] : failure.Reason,
            ElapsedMs = Math.Round(failure.Elapsed.TotalMilliseconds, 1),
            IsTest = failure.IsTest,
            At = failure.At,
        };
        try
        {
            await Table.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>The failed orders of a month (<c>yyyy-MM</c>), oldest first; debug orders are listed but not counted.</summary>
    public async Task<FailedOrderMonth> MonthAsync(string month, CancellationToken cancellationToken)
    {
        var orders = new List<FailedOrderEntity>();
        await foreach (var row in Table.QueryAsync<FailedOrderEntity>(e => e.PartitionKey == PartitionPrefix + month, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            orders.Add(row);
        }

        orders.Sort((a, b) => a.At.CompareTo(b.At));
        return new FailedOrderMonth(month, DelistingThreshold, orders.Count(o => !o.IsTest), orders);
    }

    /// <summary>True for a well-formed <c>yyyy-MM</c> month.</summary>
    public static bool IsMonth(string? month) =>
        month is { Length: 7 } && DateTime.TryParseExact(month, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out _);
}

/// <summary>One callback KooGallery will count as a failure of <see cref="OrderId"/>.</summary>
public sealed record FailedCallback(
    string OrderId, string? InstanceId, string Activity, string ResultCode, string? Reason, TimeSpan Elapsed, bool IsTest, DateTimeOffset At);

/// <summary>A month's failed orders: <see cref="Count"/> (debug orders excluded) against KooGallery's threshold.</summary>
public sealed record FailedOrderMonth(string Month, int Threshold, int Count, IReadOnlyList<FailedOrderEntity> Orders)
{
    /// <summary>The month as operators read it (the ops endpoint and the console).</summary>
    public object View() => new
    {
        month = Month,
        threshold = Threshold,
        count = Count,
        overThreshold = Count > Threshold,
        orders = Orders.Select(o => new { o.OrderId, o.InstanceId, o.Activity, o.ResultCode, o.Reason, o.ElapsedMs, o.IsTest, o.At }),
    };
}

public sealed class FailedOrderEntity : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string OrderId { get; set; } = string.Empty;

    public string? InstanceId { get; set; }

    public string Activity { get; set; } = string.Empty;

    public string ResultCode { get; set; } = string.Empty;

    public string? Reason { get; set; }

    public double ElapsedMs { get; set; }

    public bool IsTest { get; set; }

    public DateTimeOffset At { get; set; }
}
