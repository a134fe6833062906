using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Licensing;

/// <summary>
/// Table access for licences: the licence row, its event log and idempotency markers in one partition, every
/// change one transaction (insert when the licence is new, else replace under its ETag), so the log never
/// disagrees with the state and a storage failure leaves nothing half-written.
/// </summary>
public sealed class LicenseRepository(TableServiceClient tables, IOptions<StorageOptions> names, InstanceRepository instances)
{
    private TableClient Table => tables.GetTableClient(names.Value.LicenseTable);

    public async Task<LicenseEntity?> GetAsync(string license, CancellationToken cancellationToken)
    {
        var found = await Table.GetEntityIfExistsAsync<LicenseEntity>(InstanceKeys.Escape(license), LicenseEntity.Row, cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    /// <summary>
    /// Writes the licence (a new one is inserted, a read one replaced under its ETag) with its events and markers.
    /// Conflict: changed or created since read; AlreadyApplied: a marker shows the same order was applied before.
    /// </summary>
    public async Task<CommitOutcome> SaveAsync(LicenseEntity license, bool isNew, IEnumerable<InstanceEventEntity> events, string? marker, DateTimeOffset now, CancellationToken cancellationToken)
    {
        license.PartitionKey = InstanceKeys.Escape(license.License);
        license.RowKey = LicenseEntity.Row;
        license.UpdatedAt = now;
        var actions = new List<TableTransactionAction>
        {
            isNew ? new(TableTransactionActionType.Add, license) : new(TableTransactionActionType.UpdateReplace, license, license.ETag),
        };
        foreach (var e in events)
        {
            e.PartitionKey = license.PartitionKey;
            e.RowKey = InstanceKeys.TimeOrdered(InstanceKeys.EventPrefix, e.At);
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, e));
        }

        if (marker is not null)
        {
            actions.Add(new TableTransactionAction(TableTransactionActionType.Add, new AppliedMarkerEntity { PartitionKey = license.PartitionKey, RowKey = marker, AppliedAt = now }));
        }

        try
        {
            var response = await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
            license.ETag = response.Value[0].Headers.ETag ?? license.ETag;
            return CommitOutcome.Committed;
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 409 && marker is not null && ex.FailedTransactionActionIndex == actions.Count - 1)
        {
            return CommitOutcome.AlreadyApplied;
        }
        catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412)
        {
            return CommitOutcome.Conflict;
        }
    }

    public InstanceEventEntity Event(string kind, string? activity = null, string? orderId = null, string? detail = null) =>
        instances.Event(kind, activity, orderId, null, null, detail);

    /// <summary>The licence's event log, oldest first.</summary>
    public async Task<IReadOnlyList<InstanceEventEntity>> EventsAsync(string license, CancellationToken cancellationToken)
    {
        var partition = InstanceKeys.Escape(license);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {InstanceKeys.EventPrefix} and RowKey lt {"event}"}");
        return await Table.QueryAsync<InstanceEventEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }
}
