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
public sealed class InstanceRepository(TableServiceClient tables, IOptions<StorageOptions> names, InstanceStateCounts counts, TimeProvider time)
{
    private TableClient Table => tables.GetTableClient(names.Value.InstanceTable);

    public async Task<InstanceEntity?> GetAsync(string instanceId, CancellationToken cancellationToken)
    {
        var found = await Table.GetEntityIfExistsAsync<InstanceEntity>(InstanceKeys.Escape(instanceId), InstanceKeys.InstanceRow, cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? Stored(found.Value!) : null;
    }

    private static InstanceEntity Stored(InstanceEntity instance)
    {
        instance.StateAsStored = instance.State;
        instance.CustomerIdAsStored = instance.CustomerId;
        return instance;
    }

    /// <summary>Inserts a new instance with its first event; false when the instance already exists.</summary>
    /// <param name="answer">The callback's answer row (<see cref="Callbacks.NonceClaim.AnswerRow"/>), kept in the same transaction.</param>
    public async Task<bool> TryCreateAsync(InstanceEntity instance, InstanceEventEntity firstEvent, CancellationToken cancellationToken, TableTransactionAction? answer = null)
    {
        instance.PartitionKey = InstanceKeys.Escape(instance.InstanceId);
        instance.RowKey = InstanceKeys.InstanceRow;
        Prepare(instance.PartitionKey, firstEvent);

        // The index rows go out beside the insert (no added latency) and again with every repeat, so an instance
        // is never without them; one whose insert failed leaves an index row pointing at nothing, which readers skip.
        var indexed = Task.WhenAll(IndexWrites(instance, created: true, cancellationToken));
        var insert = InsertAsync(instance, firstEvent, answer, cancellationToken);
        await Task.WhenAll(insert, indexed).ConfigureAwait(false);
        if (insert.Result)
        {
            Stored(instance);
            counts.Changed(null, instance.State, instance.IsTest);
        }

        return insert.Result;
    }

    /// <summary>The index rows an existing instance's creation wrote, written again (upserts) for a repeated newInstance.</summary>
    public Task EnsureIndexedAsync(InstanceEntity instance, CancellationToken cancellationToken) =>
        Task.WhenAll(IndexWrites(instance, created: true, cancellationToken));

    private async Task<bool> InsertAsync(InstanceEntity instance, InstanceEventEntity firstEvent, TableTransactionAction? answer, CancellationToken cancellationToken)
    {
        try
        {
            List<TableTransactionAction> actions = [new(TableTransactionActionType.Add, instance), new(TableTransactionActionType.Add, firstEvent)];
            if (answer is not null)
            {
                actions.Add(answer);
            }

            var response = await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            Callbacks.NonceClaim.AnswerCommitted(answer);
            instance.ETag = response.Value[0].Headers.ETag ?? instance.ETag;
            return true;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 409)
        {
            return false;
        }
    }

    /// <summary>
    /// The index rows a write of <paramref name="instance"/> needs before it: its order's (on creation), its
    /// customer's once known, the failed list's when it becomes Failed. Upserts: a repeat costs nothing new.
    /// </summary>
    private IEnumerable<Task> IndexWrites(InstanceEntity instance, bool created, CancellationToken cancellationToken)
    {
        var key = InstanceKeys.Escape(instance.InstanceId);
        if (created)
        {
            yield return Table.UpsertEntityAsync(new TableEntity(InstanceKeys.OrderIndex(instance.OrderId), key), TableUpdateMode.Replace, cancellationToken);
        }

        if (instance.CustomerId is { Length: > 0 } customer && (!instance.IsStored || customer != instance.CustomerIdAsStored))
        {
            yield return Table.UpsertEntityAsync(new TableEntity(InstanceKeys.CustomerIndex(customer), key), TableUpdateMode.Replace, cancellationToken);
        }

        if (instance.CurrentState == InstanceState.Failed && (!instance.IsStored || instance.StateAsStored != nameof(InstanceState.Failed)))
        {
            yield return Table.UpsertEntityAsync(new TableEntity(InstanceKeys.FailedIndex, key) { [nameof(InstanceEntity.FailedAt)] = instance.FailedAt }, TableUpdateMode.Replace, cancellationToken);
        }
    }

    /// <summary>Before a commit: the index rows it will need. After: the failed list loses an instance that left Failed.</summary>
    private Task IndexBeforeAsync(InstanceEntity instance, CancellationToken cancellationToken) =>
        Task.WhenAll(IndexWrites(instance, created: false, cancellationToken));

    private async Task IndexAfterAsync(InstanceEntity instance, CancellationToken cancellationToken)
    {
        var leftFailed = instance.IsStored && instance.StateAsStored == nameof(InstanceState.Failed) && instance.CurrentState != InstanceState.Failed;
        if (instance.IsStored)
        {
            counts.Changed(instance.StateAsStored, instance.State, instance.IsTest);
        }

        Stored(instance);
        if (leftFailed)
        {
            try
            {
                await Table.DeleteEntityAsync(InstanceKeys.FailedIndex, InstanceKeys.Escape(instance.InstanceId), ETag.All, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException)
            {
                // The instance is committed; a stale row in the failed list is skipped by its readers.
            }
        }
    }

    /// <summary>Replaces the instance row if unchanged since read, adding events and markers atomically.</summary>
    public async Task<CommitOutcome> CommitAsync(InstanceEntity instance, IEnumerable<InstanceEventEntity> events, IEnumerable<string>? markers, CancellationToken cancellationToken)
    {
        await IndexBeforeAsync(instance, cancellationToken).ConfigureAwait(false);
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
            await IndexAfterAsync(instance, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// Records a change KooGallery asked for, with its event and (for renewals and upgrades) its idempotency
    /// marker, in one insert-only transaction: no ETag, so concurrent changes never conflict. Returns
    /// <see cref="CommitOutcome.AlreadyApplied"/> when the marker shows the same order was recorded before.
    /// </summary>
    public async Task<CommitOutcome> RecordChangeAsync(string instanceId, InstanceChangeEntity change, InstanceEventEntity callbackEvent, string? marker, TableTransactionAction? answer, CancellationToken cancellationToken)
    {
        var partition = InstanceKeys.Escape(instanceId);
        change.PartitionKey = partition;
        if (string.IsNullOrEmpty(change.RowKey))
        {
            change.RowKey = InstanceChangeEntity.RowKeyFor(change.ReceivedAt);
        }

        Prepare(partition, callbackEvent);
        var actions = new List<TableTransactionAction>
        {
            new(TableTransactionActionType.Add, change),
            new(TableTransactionActionType.Add, callbackEvent),
        };
        if (answer is not null)
        {
            actions.Add(answer);
        }

        if (marker is not null)
        {
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, new AppliedMarkerEntity { PartitionKey = partition, RowKey = marker, AppliedAt = time.GetUtcNow() }));
        }

        try
        {
            await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            Callbacks.NonceClaim.AnswerCommitted(answer);
            return CommitOutcome.Committed;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 409 && marker is not null && ex.FailedTransactionActionIndex == actions.Count - 1)
        {
            return CommitOutcome.AlreadyApplied;
        }
    }

    /// <summary>Changes recorded and not yet applied, oldest first.</summary>
    public async Task<IReadOnlyList<InstanceChangeEntity>> ChangesAsync(string instanceId, CancellationToken cancellationToken)
    {
        var partition = InstanceKeys.Escape(instanceId);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {InstanceKeys.ChangePrefix} and RowKey lt {"change}"}");
        return await Table.QueryAsync<InstanceChangeEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes the instance row as changed by applying <paramref name="applied"/> changes, deletes those change
    /// rows and adds their events, atomically. Conflict when the row or a change row moved meanwhile.
    /// </summary>
    public async Task<CommitOutcome> CommitChangesAsync(InstanceEntity instance, IReadOnlyList<InstanceChangeEntity> applied, IEnumerable<InstanceEventEntity> events, CancellationToken cancellationToken)
    {
        await IndexBeforeAsync(instance, cancellationToken).ConfigureAwait(false);
        instance.UpdatedAt = time.GetUtcNow();
        var actions = new List<TableTransactionAction> { new(TableTransactionActionType.UpdateReplace, instance, instance.ETag) };
        actions.AddRange(applied.Select(c => new TableTransactionAction(TableTransactionActionType.Delete, c, c.ETag)));
        foreach (var e in events)
        {
            Prepare(instance.PartitionKey, e);
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, e));
        }

        try
        {
            var response = await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            instance.ETag = response.Value[0].Headers.ETag ?? instance.ETag;
            await IndexAfterAsync(instance, cancellationToken).ConfigureAwait(false);
            return CommitOutcome.Committed;
        }
        catch (TableTransactionFailedException ex) when (ex.Status is 412 or 404)
        {
            return CommitOutcome.Conflict;
        }
    }

    /// <summary>Appends events without touching the instance row (e.g. a repeated callback that changed nothing).</summary>
    public async Task AppendAsync(string instanceId, IEnumerable<InstanceEventEntity> events, CancellationToken cancellationToken, TableTransactionAction? answer = null)
    {
        var partition = InstanceKeys.Escape(instanceId);
        var actions = events.Select(e =>
        {
            Prepare(partition, e);
            return new TableTransactionAction(TableTransactionActionType.Add, e);
        }).ToList();
        if (answer is not null)
        {
            actions.Add(answer);
        }

        if (actions.Count > 0)
        {
            await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            Callbacks.NonceClaim.AnswerCommitted(answer);
        }
    }

    /// <summary>The event log of an instance, oldest first.</summary>
    public async Task<IReadOnlyList<InstanceEventEntity>> EventsAsync(string instanceId, CancellationToken cancellationToken)
    {
        var partition = InstanceKeys.Escape(instanceId);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {InstanceKeys.EventPrefix} and RowKey lt {"event}"}");
        return await Table.QueryAsync<InstanceEventEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Instances of an order (an operator's "what happened to order X"): the order's index partition, then a point read per line.</summary>
    public Task<IReadOnlyList<InstanceEntity>> FindByOrderAsync(string orderId, CancellationToken cancellationToken) =>
        FromIndexAsync(InstanceKeys.OrderIndex(orderId), i => i.OrderId == orderId, TableClient.CreateQueryFilter($"RowKey eq {InstanceKeys.InstanceRow} and OrderId eq {orderId}"), cancellationToken);

    /// <summary>Instances of a KooGallery customer: the customer's index partition, then a point read per instance.</summary>
    public Task<IReadOnlyList<InstanceEntity>> FindByCustomerAsync(string customerId, CancellationToken cancellationToken) =>
        FromIndexAsync(InstanceKeys.CustomerIndex(customerId), i => i.CustomerId == customerId, TableClient.CreateQueryFilter($"RowKey eq {InstanceKeys.InstanceRow} and CustomerId eq {customerId}"), cancellationToken);

    /// <summary>At most this many instances are read for one index partition (an order's lines, a customer's instances, the failed list).</summary>
    public const int MaxIndexed = 500;

    /// <summary>
    /// The instances an index partition names, each checked against what it is asked for (an index row may outlive
    /// what it says). Before the index was backfilled for rows older than it, the old scan answers instead.
    /// </summary>
    /// <param name="unreadable">What stands for an instance whose row cannot be read now (storage trouble); null: the read fails.</param>
    private async Task<IReadOnlyList<InstanceEntity>> FromIndexAsync(string partition, Func<InstanceEntity, bool> matches, string legacyFilter, CancellationToken cancellationToken, Func<string, RequestFailedException, InstanceEntity>? unreadable = null)
    {
        if (!await IndexedAsync(cancellationToken).ConfigureAwait(false))
        {
            return (await Table.QueryAsync<InstanceEntity>(legacyFilter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false)).Select(Stored).ToList();
        }

        var ids = await Table.QueryAsync<TableEntity>(e => e.PartitionKey == partition, maxPerPage: MaxIndexed, select: ["RowKey"], cancellationToken: cancellationToken)
            .Take(MaxIndexed).Select(e => e.RowKey).ToListAsync(cancellationToken).ConfigureAwait(false);
        var found = await Task.WhenAll(ids.Select(async key =>
        {
            try
            {
                var row = await Table.GetEntityIfExistsAsync<InstanceEntity>(key, InstanceKeys.InstanceRow, cancellationToken: cancellationToken).ConfigureAwait(false);
                return row.HasValue ? Stored(row.Value!) : null;
            }
            catch (RequestFailedException ex) when (unreadable is not null)
            {
                return unreadable(Uri.UnescapeDataString(key), ex);
            }
        })).ConfigureAwait(false);
        return found.OfType<InstanceEntity>().Where(matches).ToList();
    }

    private volatile bool indexed;

    /// <summary>Whether every instance row has its index rows (the backfill's marker; once seen, remembered).</summary>
    public async Task<bool> IndexedAsync(CancellationToken cancellationToken)
    {
        if (!indexed)
        {
            indexed = (await Table.GetEntityIfExistsAsync<TableEntity>(InstanceKeys.IndexMarkerPartition, InstanceKeys.IndexMarkerRow, select: ["RowKey"], cancellationToken: cancellationToken).ConfigureAwait(false)).HasValue;
        }

        return indexed;
    }

    /// <summary>
    /// Writes the index rows of every instance row (rows from before the indexes existed), then the marker that lets
    /// readers trust the indexes. A full read of the instance rows: run once, by the daily retention, until done.
    /// </summary>
    public async Task<int> BackfillIndexAsync(CancellationToken cancellationToken)
    {
        if (await IndexedAsync(cancellationToken).ConfigureAwait(false))
        {
            return 0;
        }

        var written = 0;
        var filter = TableClient.CreateQueryFilter($"RowKey eq {InstanceKeys.InstanceRow}");
        await foreach (var instance in Table.QueryAsync<InstanceEntity>(filter, select: ["InstanceId", "OrderId", "CustomerId", "State", "FailedAt"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            await Task.WhenAll(IndexWrites(instance, created: true, cancellationToken)).ConfigureAwait(false);
            written++;
        }

        await Table.UpsertEntityAsync(new TableEntity(InstanceKeys.IndexMarkerPartition, InstanceKeys.IndexMarkerRow) { ["At"] = time.GetUtcNow(), ["Instances"] = written }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        indexed = true;
        return written;
    }

    /// <summary>
    /// Instances per state, debug ones apart, counted from every instance row (two columns each): the daily recount
    /// of <see cref="InstanceStateCounts"/>, which the console reads instead.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, (int Production, int Debug)>> CountByStateAsync(CancellationToken cancellationToken)
    {
        var counts = new SortedDictionary<string, (int Production, int Debug)>(StringComparer.Ordinal);
        var filter = TableClient.CreateQueryFilter($"RowKey eq {InstanceKeys.InstanceRow}");
        await foreach (var row in Table.QueryAsync<TableEntity>(filter, select: ["State", "IsTest"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var state = row.GetString("State") ?? "(none)";
            var (production, debug) = counts.GetValueOrDefault(state);
            counts[state] = row.GetBoolean("IsTest") == true ? (production, debug + 1) : (production + 1, debug);
        }

        return counts;
    }

    /// <summary>Deletes the instance's event-log lines written before <paramref name="before"/>; returns how many went.</summary>
    public async Task<int> PurgeEventsAsync(string instanceId, DateTimeOffset before, CancellationToken cancellationToken)
    {
        var partition = InstanceKeys.Escape(instanceId);
        var upTo = $"{InstanceKeys.EventPrefix}{before.UtcTicks:D19}";
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {InstanceKeys.EventPrefix} and RowKey lt {upTo}");
        var old = await Table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var chunk in old.Chunk(100))
        {
            await Table.SubmitTransactionAsync(chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Delete, e, ETag.All)), cancellationToken).ConfigureAwait(false);
        }

        return old.Count;
    }

    /// <summary>Failed instances, optionally only those that failed in [<paramref name="after"/>, <paramref name="before"/>): the failed list, then a point read each.</summary>
    public async Task<IReadOnlyList<InstanceEntity>> FindFailedAsync(DateTimeOffset? after, DateTimeOffset? before, CancellationToken cancellationToken)
    {
        var legacy = TableClient.CreateQueryFilter($"RowKey eq {InstanceKeys.InstanceRow} and State eq {nameof(InstanceState.Failed)}");
        // An instance on the list that cannot be read now is still listed (with why), so a bulk re-drive reports it rather than skipping it.
        var failed = await FromIndexAsync(
            InstanceKeys.FailedIndex,
            i => i.CurrentState == InstanceState.Failed,
            legacy,
            cancellationToken,
            (id, ex) => new InstanceEntity { InstanceId = id, PartitionKey = InstanceKeys.Escape(id), State = nameof(InstanceState.Failed), FailureReason = $"could not be read: {ex.Status} {ex.ErrorCode}" }).ConfigureAwait(false);
        return failed.Where(i => (after is not { } a || i.FailedAt is null || i.FailedAt >= a) && (before is not { } b || i.FailedAt is null || i.FailedAt < b)).ToList();
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
            // Sortable by time, and by order of writing within one tick (events of one transaction).
            e.RowKey = InstanceKeys.TimeOrdered(InstanceKeys.EventPrefix, e.At);
        }
    }
}
