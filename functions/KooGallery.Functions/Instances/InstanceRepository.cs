using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>Outcome of writing a change with its markers.</summary>
public enum CommitOutcome
{
    Committed,

    /// <summary>The row changed since it was read (412): re-read and decide again.</summary>
    Conflict,

    /// <summary>An idempotency marker already exists: this order was applied before.</summary>
    AlreadyApplied,
}

/// <summary>
/// Table access for instances. Every change is one same-partition transaction — the instance row (with its
/// ETag), the event-log lines and any idempotency marker — so the log can never disagree with the state.
/// </summary>
public sealed class InstanceRepository(TableServiceClient tables, IOptions<StorageOptions> names, TimeProvider time)
{
    private TableClient Table => tables.GetTableClient(names.Value.InstanceTable);

    public async Task<InstanceEntity?> GetAsync(string instanceId, CancellationToken cancellationToken)
    {
        var found = await Table.GetEntityIfExistsAsync<InstanceEntity>(InstanceKeys.Escape(instanceId), InstanceKeys.InstanceRow, cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    /// <summary>Inserts a new instance with its first event; false when the instance already exists.</summary>
    public async Task<bool> TryCreateAsync(InstanceEntity instance, InstanceEventEntity firstEvent, CancellationToken cancellationToken)
    {
        instance.PartitionKey = InstanceKeys.Escape(instance.InstanceId);
        instance.RowKey = InstanceKeys.InstanceRow;
        Prepare(instance.PartitionKey, firstEvent);
        try
        {
            var response = await Table.SubmitTransactionAsync(
                [new TableTransactionAction(TableTransactionActionType.Add, instance), new TableTransactionAction(TableTransactionActionType.Add, firstEvent)],
                cancellationToken).ConfigureAwait(false);
            instance.ETag = response.Value[0].Headers.ETag ?? instance.ETag;
            return true;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>Replaces the instance row if unchanged since read, adding events and markers atomically.</summary>
    public async Task<CommitOutcome> CommitAsync(InstanceEntity instance, IEnumerable<InstanceEventEntity> events, IEnumerable<string>? markers, CancellationToken cancellationToken)
    {
        instance.UpdatedAt = time.GetUtcNow();
        var actions = new List<TableTransactionAction> { new(TableTransactionActionType.UpdateReplace, instance, instance.ETag) };
        foreach (var e in events)
        {
            Prepare(instance.PartitionKey, e);
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, e));
        }

        var markerRows = (markers ?? []).ToList();
        foreach (var marker in markerRows)
        {
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, new AppliedMarkerEntity { PartitionKey = instance.PartitionKey, RowKey = marker, AppliedAt = time.GetUtcNow() }));
        }

        try
        {
            var response = await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            instance.ETag = response.Value[0].Headers.ETag ?? instance.ETag;
            return CommitOutcome.Committed;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 412)
        {
            return CommitOutcome.Conflict;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 409 && ex.FailedTransactionActionIndex is { } index && index >= actions.Count - markerRows.Count)
        {
            // Only a marker can conflict (events carry unique keys). The SDK may also have retried a
            // transaction that had succeeded; either way the order is applied.
            return CommitOutcome.AlreadyApplied;
        }
    }

    /// <summary>Appends events without touching the instance row (e.g. a repeated callback that changed nothing).</summary>
    public async Task AppendAsync(string instanceId, IEnumerable<InstanceEventEntity> events, CancellationToken cancellationToken)
    {
        var partition = InstanceKeys.Escape(instanceId);
        var actions = events.Select(e =>
        {
            Prepare(partition, e);
            return new TableTransactionAction(TableTransactionActionType.Add, e);
        }).ToList();
        if (actions.Count > 0)
        {
            await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The event log of an instance, oldest first.</summary>
    public async Task<IReadOnlyList<InstanceEventEntity>> EventsAsync(string instanceId, CancellationToken cancellationToken)
    {
        var partition = InstanceKeys.Escape(instanceId);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {InstanceKeys.EventPrefix} and RowKey lt {"event}"}");
        return await Table.QueryAsync<InstanceEventEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Instances of an order (an operator's "what happened to order X"); a scan, for admin use only.</summary>
    public async Task<IReadOnlyList<InstanceEntity>> FindByOrderAsync(string orderId, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"RowKey eq {InstanceKeys.InstanceRow} and OrderId eq {orderId}");
        return await Table.QueryAsync<InstanceEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Instances whose pending work has waited longer than <paramref name="olderThan"/>, failed ones excluded.</summary>
    public async Task<IReadOnlyList<InstanceEntity>> FindStalePendingAsync(DateTimeOffset olderThan, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"RowKey eq {InstanceKeys.InstanceRow} and PendingSince lt {olderThan} and State ne {nameof(InstanceState.Failed)}");
        return await Table.QueryAsync<InstanceEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    public InstanceEventEntity Event(string kind, string? activity = null, string? orderId = null, InstanceState? from = null, InstanceState? to = null, string? detail = null) => new()
    {
        Kind = kind,
        At = time.GetUtcNow(),
        Activity = activity,
        OrderId = orderId,
        FromState = from?.ToString(),
        ToState = to?.ToString(),
        Detail = detail is { Length: > 2000 } ? detail[..2000] : detail,
    };

    private static void Prepare(string partition, InstanceEventEntity e)
    {
        e.PartitionKey = partition;
        if (string.IsNullOrEmpty(e.RowKey))
        {
            // Sortable by time; the random suffix keeps two events of one transaction apart.
            e.RowKey = $"{InstanceKeys.EventPrefix}{e.At.UtcTicks:D19}|{Guid.NewGuid():N}"[..(InstanceKeys.EventPrefix.Length + 19 + 1 + 12)];
        }
    }
}
