using System.Globalization;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

public enum AddUsageOutcome
{
    Added,
    Duplicate,
}

/// <summary>
/// Usage rows in Table Storage, partitioned by instance: the open row of a period and the record-id marker
/// are written in one transaction, so a record is either counted once with its id remembered, or not at all.
/// </summary>
public sealed class UsageStore(TableServiceClient tables, IOptions<StorageOptions> names, TimeProvider time)
{
    // Many records for one instance-hour can arrive at once (a tenant flushing its meters); each attempt
    // re-reads the row, and a short random back-off spreads the writers out instead of colliding again.
    private const int MaxAttempts = 25;

    private TableClient Table => tables.GetTableClient(names.Value.UsageTable);

    public async Task<AddUsageOutcome> AddAsync(string instanceId, DateTimeOffset periodStart, DateTimeOffset periodEnd, string? package, decimal value, string? recordId, CancellationToken cancellationToken)
    {
        var partition = InstanceKeys.Escape(instanceId);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var latest = await LatestAsync(partition, periodStart, package, cancellationToken).ConfigureAwait(false);
            var actions = new List<TableTransactionAction>();
            UsageRowEntity row;
            if (latest is { Status: UsageStatus.Pending })
            {
                row = latest;
                row.UsageValue = UsageValues.Format(row.Value + value);
                row.RecordCount++;
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, row, row.ETag));
            }
            else
            {
                // No row yet, or the open one was pushed already: a late record opens the next sequence.
                var sequence = latest is null ? 0 : latest.Sequence + 1;
                row = new UsageRowEntity
                {
                    PartitionKey = partition,
                    RowKey = UsageRowEntity.RowKeyFor(periodStart, package, sequence),
                    InstanceId = instanceId,
                    PeriodStart = periodStart,
                    PeriodEnd = periodEnd,
                    Sequence = sequence,
                    RelatePackageInstance = package,
                    UsageValue = UsageValues.Format(value),
                    RecordCount = 1,
                    MeteringSn = UsageRowEntity.MeteringSnFor(instanceId, periodStart, package, sequence),
                    CreatedAt = time.GetUtcNow(),
                };
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, row));
            }

            if (recordId is not null)
            {
                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, new UsageRecordMarker
                {
                    PartitionKey = partition,
                    RowKey = UsageRecordMarker.Prefix + InstanceKeys.Escape(recordId),
                    UsageRowKey = row.RowKey,
                    AcceptedAt = time.GetUtcNow(),
                }));
            }

            try
            {
                await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
                return AddUsageOutcome.Added;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 409 && ex.FailedTransactionActionIndex == 1)
            {
                return AddUsageOutcome.Duplicate;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another record changed or opened the row first: read again and add on top.
                await Task.Delay(Random.Shared.Next(1, 10 + (10 * attempt)), cancellationToken).ConfigureAwait(false);
            }
        }

        throw new InvalidOperationException($"Usage of instance {instanceId} for {periodStart:O} kept changing under concurrent writers.");
    }

    /// <summary>Rows a push run may take: pending ones whose period has ended, and ones whose lease has expired.</summary>
    public async Task<IReadOnlyList<UsageRowEntity>> FindPushableAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter(
            $"RowKey ge {UsageRowEntity.Prefix} and RowKey lt {"usage}"} and PeriodEnd le {now} and (Status eq {UsageStatus.Pending} or (Status eq {UsageStatus.Sending} and LeaseUntil lt {now}))");
        return await Table.QueryAsync<UsageRowEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Takes a row for one push run; false when another run changed it first (ETag).</summary>
    public async Task<bool> TryLeaseAsync(UsageRowEntity row, string owner, DateTimeOffset until, CancellationToken cancellationToken)
    {
        row.Status = UsageStatus.Sending;
        row.LeaseOwner = owner;
        row.LeaseUntil = until;
        return await TryReplaceAsync(row, cancellationToken).ConfigureAwait(false);
    }

    public Task<bool> MarkSentAsync(UsageRowEntity row, string resultCode, string? resultMsg, CancellationToken cancellationToken)
    {
        row.Status = UsageStatus.Sent;
        row.SentAt = time.GetUtcNow();
        row.PushAttempts++;
        row.KooGalleryResultCode = resultCode;
        row.KooGalleryResultMsg = resultMsg;
        row.LastError = null;
        row.LeaseOwner = null;
        row.LeaseUntil = null;
        return TryReplaceAsync(row, cancellationToken);
    }

    /// <summary>Gives a row back to the next run, with the reason it did not go out.</summary>
    public Task<bool> ReleaseAsync(UsageRowEntity row, string error, CancellationToken cancellationToken)
    {
        row.Status = UsageStatus.Pending;
        row.PushAttempts++;
        row.LastError = error.Length > 1000 ? error[..1000] : error;
        row.LeaseOwner = null;
        row.LeaseUntil = null;
        return TryReplaceAsync(row, cancellationToken);
    }

    public async Task<IReadOnlyList<UsageRowEntity>> ListAsync(string instanceId, CancellationToken cancellationToken)
    {
        var partition = InstanceKeys.Escape(instanceId);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {UsageRowEntity.Prefix} and RowKey lt {"usage}"}");
        return await Table.QueryAsync<UsageRowEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Rows not yet accepted by KooGallery whose period ended before <paramref name="cutoff"/>.</summary>
    public async Task<IReadOnlyList<UsageRowEntity>> FindUnsentAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"RowKey ge {UsageRowEntity.Prefix} and RowKey lt {"usage}"} and Status ne {UsageStatus.Sent} and PeriodEnd lt {cutoff}");
        return await Table.QueryAsync<UsageRowEntity>(filter, select: ["PartitionKey", "RowKey", "InstanceId", "PeriodEnd", "LastError"], cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes a row as it is (tests and tools seed rows this way).</summary>
    public Task AddRowAsync(UsageRowEntity row, CancellationToken cancellationToken) => Table.AddEntityAsync(row, cancellationToken);

    private async Task<UsageRowEntity?> LatestAsync(string partition, DateTimeOffset periodStart, string? package, CancellationToken cancellationToken)
    {
        var prefix = UsageRowEntity.RowKeyPrefix(periodStart, package);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {prefix} and RowKey lt {prefix + "~"}");
        UsageRowEntity? latest = null;
        await foreach (var row in Table.QueryAsync<UsageRowEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (latest is null || row.Sequence > latest.Sequence)
            {
                latest = row;
            }
        }

        return latest;
    }

    private async Task<bool> TryReplaceAsync(UsageRowEntity row, CancellationToken cancellationToken)
    {
        try
        {
            var response = await Table.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            row.ETag = response.Headers.ETag ?? row.ETag;
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 412 or 404)
        {
            return false;
        }
    }

}

internal static class UsagePeriods
{
    /// <summary>The billing period a record starting at <paramref name="begin"/> belongs to: its UTC hour, or its calendar day in KooGallery's time zone.</summary>
    public static (DateTimeOffset Start, DateTimeOffset End) Of(DateTimeOffset begin, bool daily, TimeSpan dayOffset)
    {
        if (!daily)
        {
            var utc = begin.ToUniversalTime();
            var start = new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero);
            return (start, start.AddHours(1));
        }

        var local = begin.ToOffset(dayOffset);
        var dayStart = new DateTimeOffset(local.Year, local.Month, local.Day, 0, 0, 0, dayOffset).ToUniversalTime();
        return (dayStart, dayStart.AddDays(1));
    }

    public static string Describe(DateTimeOffset start, bool daily) =>
        (daily ? "day from " : "hour from ") + start.ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);
}
