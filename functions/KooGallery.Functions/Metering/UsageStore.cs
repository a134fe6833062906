using System.Globalization;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>Usage of one record to add to its row, with the record's id.</summary>
public sealed record UsageAddition(string RecordId, decimal Value);

/// <summary>
/// Usage rows in Table Storage (see <see cref="UsageRowEntity"/>): a row and the record-id markers of the
/// records it counts are written in one transaction, so a record is either counted once with its id
/// remembered, or not at all. The hour ledger (<see cref="UsageHourEntity"/>) tells the push job which hour
/// partitions to read.
/// </summary>
public sealed class UsageStore(TableServiceClient tables, IOptions<StorageOptions> names, TimeProvider time)
{
    /// <summary>A transaction holds 100 operations: the row and up to 99 record markers.</summary>
    public const int MaxRecordsPerWrite = 99;

    /// <summary>
    /// An hour is closed only when its last row was opened longer ago than this: an intake that marked the
    /// hour open before the push read the ledger has committed its row by then (storage calls are bounded to
    /// seconds), so closing cannot miss it.
    /// </summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromMinutes(2);

    // Many records for one instance-hour can arrive at once (a tenant flushing its meters); each attempt
    // re-reads the row, and a short random back-off spreads the writers out instead of colliding again.
    private const int MaxAttempts = 25;

    private TableClient Table => tables.GetTableClient(names.Value.UsageTable);

    private TableClient Schedule => tables.GetTableClient(names.Value.ScheduleTable);

    /// <summary>
    /// Adds records of one instance, period and package to the open row, or opens the next one, with their
    /// markers, in one transaction. Returns the record ids that were already counted (duplicates); the others
    /// are counted now. Debug instances' rows are kept as <see cref="UsageStatus.Debug"/>, never sent.
    /// </summary>
    public async Task<IReadOnlySet<string>> AddAsync(
        string instanceId, DateTimeOffset periodStart, DateTimeOffset periodEnd, string? package, bool debug,
        IReadOnlyList<UsageAddition> records, CancellationToken cancellationToken)
    {
        if (records.Count is 0 or > MaxRecordsPerWrite)
        {
            throw new ArgumentOutOfRangeException(nameof(records), records.Count, $"1 to {MaxRecordsPerWrite} records per write.");
        }

        var partition = UsageRowEntity.PartitionFor(periodEnd);
        var duplicates = new HashSet<string>(StringComparer.Ordinal);
        var remaining = records.ToList();
        for (var attempt = 0; attempt < MaxAttempts && remaining.Count > 0; attempt++)
        {
            var latest = await LatestAsync(partition, UsageRowEntity.RowKeyPrefix(instanceId, periodStart, package), cancellationToken).ConfigureAwait(false);
            var sum = remaining.Sum(r => r.Value);
            var actions = new List<TableTransactionAction>(remaining.Count + 1);
            UsageRowEntity row;
            if (latest is { Status: UsageStatus.Pending or UsageStatus.Debug })
            {
                row = latest;
                row.UsageValue = UsageValues.Format(row.Value + sum);
                row.RecordCount += remaining.Count;
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, row, row.ETag));
            }
            else
            {
                // No row yet, or the open one is being sent or was sent: a late record opens the next sequence.
                var sequence = latest is null ? 0 : latest.Sequence + 1;
                row = new UsageRowEntity
                {
                    PartitionKey = partition,
                    RowKey = UsageRowEntity.RowKeyFor(instanceId, periodStart, package, sequence),
                    InstanceId = instanceId,
                    PeriodStart = periodStart,
                    PeriodEnd = periodEnd,
                    Sequence = sequence,
                    RelatePackageInstance = package,
                    UsageValue = UsageValues.Format(sum),
                    RecordCount = remaining.Count,
                    MeteringSn = UsageRowEntity.MeteringSnFor(instanceId, periodStart, package, sequence),
                    Status = debug ? UsageStatus.Debug : UsageStatus.Pending,
                    CreatedAt = time.GetUtcNow(),
                };
                if (!debug)
                {
                    await OpenHourAsync(periodEnd, cancellationToken).ConfigureAwait(false);
                }

                actions.Add(new TableTransactionAction(TableTransactionActionType.Add, row));
            }

            actions.AddRange(remaining.Select(r => new TableTransactionAction(TableTransactionActionType.Add, new UsageRecordMarker
            {
                PartitionKey = partition,
                RowKey = UsageRecordMarker.RowKeyFor(instanceId, r.RecordId),
                UsageRowKey = row.RowKey,
                AcceptedAt = time.GetUtcNow(),
            })));

            try
            {
                await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
                return duplicates;
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 409 && ex.FailedTransactionActionIndex is > 0 and var index)
            {
                // That record was counted before (the SDK may also have retried a transaction that had succeeded,
                // in which case every marker is there and every record turns out a duplicate in turn).
                duplicates.Add(remaining[index - 1].RecordId);
                remaining.RemoveAt(index - 1);
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another record changed or opened the row first: read again and add on top.
                await Task.Delay(Random.Shared.Next(1, 10 + (10 * attempt)), cancellationToken).ConfigureAwait(false);
            }
        }

        if (remaining.Count == 0)
        {
            return duplicates;
        }

        throw new InvalidOperationException($"Usage of instance {instanceId} for {periodStart:O} kept changing under concurrent writers.");
    }

    /// <summary>Marks an hour as holding rows to push; written before such a row is created.</summary>
    public Task OpenHourAsync(DateTimeOffset periodEnd, CancellationToken cancellationToken) =>
        Schedule.UpsertEntityAsync(
            new UsageHourEntity { RowKey = UsageRowEntity.HourKey(periodEnd), Open = true, OpenedAt = time.GetUtcNow() },
            TableUpdateMode.Merge,
            cancellationToken);

    /// <summary>Open hours up to <paramref name="upTo"/>'s hour: the only partitions a push run reads.</summary>
    public async Task<IReadOnlyList<UsageHourEntity>> OpenHoursAsync(DateTimeOffset upTo, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {UsageHourEntity.Partition} and RowKey le {UsageRowEntity.HourKey(upTo)} and Open eq {true}");
        return await Schedule.QueryAsync<UsageHourEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Hours older than <paramref name="before"/>'s hour, for retention.</summary>
    public async Task<IReadOnlyList<UsageHourEntity>> HoursBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {UsageHourEntity.Partition} and RowKey lt {UsageRowEntity.HourKey(before)}");
        return await Schedule.QueryAsync<UsageHourEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes an hour for one push run (ETag on the ledger row). False when another run holds an unexpired
    /// lease on it; an intake opening a row meanwhile only makes this read again.
    /// </summary>
    public async Task<bool> TryLeaseHourAsync(UsageHourEntity hour, string owner, DateTimeOffset until, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            if (hour.LeaseOwner is not null && hour.LeaseOwner != owner && hour.LeaseUntil > time.GetUtcNow())
            {
                return false;
            }

            hour.LeaseOwner = owner;
            hour.LeaseUntil = until;
            try
            {
                var response = await Schedule.UpdateEntityAsync(hour, hour.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                hour.ETag = response.Headers.ETag ?? hour.ETag;
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 404)
            {
                var fresh = await Schedule.GetEntityIfExistsAsync<UsageHourEntity>(hour.PartitionKey, hour.RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
                if (!fresh.HasValue || fresh.Value is null)
                {
                    return false;
                }

                hour = CopyInto(hour, fresh.Value);
            }
        }

        return false;
    }

    /// <summary>
    /// Gives an hour back after a run: closed when <paramref name="finished"/> (every row final) and no intake
    /// opened a row in it since the run read the ledger; else only the lease is dropped. Unconditional on
    /// failure: an unreleased lease simply expires.
    /// </summary>
    public async Task ReleaseHourAsync(UsageHourEntity hour, bool finished, CancellationToken cancellationToken)
    {
        hour.LeaseOwner = null;
        hour.LeaseUntil = null;
        hour.Open = !finished;
        try
        {
            await Schedule.UpdateEntityAsync(hour, hour.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status is 412 or 404)
        {
            // An intake opened a row in this hour meanwhile: it stays open, and the lease lapses by itself.
        }
    }

    /// <summary>The rows of an hour that are still to be sent.</summary>
    public async Task<IReadOnlyList<UsageRowEntity>> PendingRowsAsync(string hourKey, CancellationToken cancellationToken)
    {
        var partition = UsageRowEntity.PartitionPrefix + hourKey;
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {partition} and RowKey ge {UsageRowEntity.RowPrefix} and RowKey lt {"row}"} and Status eq {UsageStatus.Pending}");
        return await Table.QueryAsync<UsageRowEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Marks rows sent, under the ETag of the read the push was made from, a hundred per transaction. A row
    /// that took late records after that read is split: what was sent is marked sent, the rest becomes the
    /// next sequence, pending. Returns the rows now final.
    /// </summary>
    public async Task<IReadOnlyList<UsageRowEntity>> MarkSentAsync(IReadOnlyList<UsageRowEntity> rows, string resultCode, string? resultMsg, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        void Sent(UsageRowEntity row)
        {
            row.Status = UsageStatus.Sent;
            row.SentAt = now;
            row.PushAttempts++;
            row.KooGalleryResultCode = resultCode;
            row.KooGalleryResultMsg = resultMsg;
            row.LastError = null;
        }

        foreach (var row in rows)
        {
            Sent(row);
        }

        var written = await ReplaceAllAsync(rows, cancellationToken).ConfigureAwait(false);
        var done = written.ToHashSet();
        var final = new List<UsageRowEntity>(written);
        foreach (var row in rows.Where(r => !done.Contains(r)))
        {
            if (await SplitAfterSendAsync(row, Sent, cancellationToken).ConfigureAwait(false) is { } split)
            {
                final.Add(split);
            }
        }

        return final;
    }

    /// <summary>KooGallery refused this row on its own: it is not sent again, and the reason is kept.</summary>
    public async Task<bool> MarkRejectedAsync(UsageRowEntity row, string resultCode, string? resultMsg, CancellationToken cancellationToken)
    {
        row.Status = UsageStatus.Rejected;
        row.PushAttempts++;
        row.KooGalleryResultCode = resultCode;
        row.KooGalleryResultMsg = resultMsg;
        row.LastError = $"KooGallery refused this row: {resultCode} {resultMsg}";
        return (await ReplaceAllAsync([row], cancellationToken).ConfigureAwait(false)).Count == 1;
    }

    /// <summary>Gives rows back to the next run, with the reason they did not go out.</summary>
    public async Task ReleaseAsync(IReadOnlyList<UsageRowEntity> rows, string error, CancellationToken cancellationToken)
    {
        foreach (var row in rows)
        {
            row.Status = UsageStatus.Pending;
            row.PushAttempts++;
            row.LastError = error.Length > 1000 ? error[..1000] : error;
        }

        // Bookkeeping only: a row that took a late record meanwhile simply keeps its newer state.
        await ReplaceAllAsync(rows, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>An instance's rows, for operators: a scan of the table, admin use only.</summary>
    public async Task<IReadOnlyList<UsageRowEntity>> ListAsync(string instanceId, CancellationToken cancellationToken)
    {
        var prefix = $"{UsageRowEntity.RowPrefix}{InstanceKeys.Escape(instanceId)}|";
        var filter = TableClient.CreateQueryFilter($"RowKey ge {prefix} and RowKey lt {prefix + "~"}");
        return await Table.QueryAsync<UsageRowEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes rows as they are, a hundred per transaction, opening their hours (tests and the benchmark seed rows this way).</summary>
    public async Task AddRowsAsync(IEnumerable<UsageRowEntity> rows, CancellationToken cancellationToken)
    {
        var byPartition = rows.GroupBy(r => r.PartitionKey).ToList();
        foreach (var hour in byPartition.Where(g => g.Any(r => !UsageStatus.IsFinal(r.Status))))
        {
            await OpenHourAsync(hour.First().PeriodEnd, cancellationToken).ConfigureAwait(false);
        }

        await Parallel.ForEachAsync(
            byPartition.SelectMany(g => g.Chunk(100)),
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (chunk, ct) => await Table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Add, r)), ct).ConfigureAwait(false))
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Retention: deletes an hour's rows and markers when none is left to send; false (and nothing deleted)
    /// when the hour still holds rows that are not final.
    /// </summary>
    public async Task<(bool Purged, int Deleted)> PurgeHourAsync(UsageHourEntity hour, CancellationToken cancellationToken)
    {
        var partition = UsageRowEntity.PartitionPrefix + hour.RowKey;
        var rows = await Table.QueryAsync<TableEntity>($"PartitionKey eq '{partition}'", select: ["PartitionKey", "RowKey", "Status"], cancellationToken: cancellationToken)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        if (rows.Any(r => r.GetString("Status") is UsageStatus.Pending))
        {
            return (false, 0);
        }

        foreach (var chunk in rows.Chunk(100))
        {
            await Table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, r, ETag.All)), cancellationToken).ConfigureAwait(false);
        }

        await Schedule.DeleteEntityAsync(hour.PartitionKey, hour.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
        return (true, rows.Count);
    }

    public Task ParkAsync(ParkedUsageEntity parked, CancellationToken cancellationToken) => Schedule.UpsertEntityAsync(parked, TableUpdateMode.Replace, cancellationToken);

    /// <summary>
    /// Usage rows per hour partition and status for the hours in [<paramref name="from"/>, <paramref name="to"/>]:
    /// one range query over those partitions reading two columns, for the operator console.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, Dictionary<string, int>>> RowsPerHourAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var hours = new SortedDictionary<string, Dictionary<string, int>>(StringComparer.Ordinal);
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey ge {UsageRowEntity.PartitionFor(from)} and PartitionKey le {UsageRowEntity.PartitionFor(to)} and RowKey ge {UsageRowEntity.RowPrefix} and RowKey lt {"row}"}");
        await foreach (var row in Table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "Status"], cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var hour = row.PartitionKey[UsageRowEntity.PartitionPrefix.Length..];
            if (!hours.TryGetValue(hour, out var statuses))
            {
                hours[hour] = statuses = new Dictionary<string, int>(StringComparer.Ordinal);
            }

            var status = row.GetString("Status") ?? UsageStatus.Pending;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
        }

        return hours;
    }

    public async Task<IReadOnlyList<ParkedUsageEntity>> ParkedAsync(CancellationToken cancellationToken) =>
        await Schedule.QueryAsync<ParkedUsageEntity>($"PartitionKey eq '{ParkedUsageEntity.Partition}'", cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);

    public async Task<ParkedUsageEntity?> ParkedAsync(string id, CancellationToken cancellationToken)
    {
        var found = await Schedule.GetEntityIfExistsAsync<ParkedUsageEntity>(ParkedUsageEntity.Partition, InstanceKeys.Escape(id), cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    public Task UnparkAsync(ParkedUsageEntity parked, CancellationToken cancellationToken) =>
        Schedule.DeleteEntityAsync(parked.PartitionKey, parked.RowKey, ETag.All, cancellationToken);

    /// <summary>
    /// A row whose mark failed because late records were added after the push read it: the value that was
    /// sent stays with this row (sent), the difference moves to the next sequence (pending, its own
    /// <c>metering_sn</c>), in one transaction. Null when the row is already final (another run marked it).
    /// </summary>
    private async Task<UsageRowEntity?> SplitAfterSendAsync(UsageRowEntity sentAs, Action<UsageRowEntity> markSent, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var found = await Table.GetEntityIfExistsAsync<UsageRowEntity>(sentAs.PartitionKey, sentAs.RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!found.HasValue || found.Value is not { } current || UsageStatus.IsFinal(current.Status))
            {
                return null;
            }

            var prefix = sentAs.RowKey[..(sentAs.RowKey.LastIndexOf('|') + 1)];
            var latest = await LatestAsync(sentAs.PartitionKey, prefix, cancellationToken).ConfigureAwait(false);
            var rest = new UsageRowEntity
            {
                PartitionKey = current.PartitionKey,
                RowKey = UsageRowEntity.RowKeyFor(current.InstanceId, current.PeriodStart, current.RelatePackageInstance, latest!.Sequence + 1),
                InstanceId = current.InstanceId,
                PeriodStart = current.PeriodStart,
                PeriodEnd = current.PeriodEnd,
                Sequence = latest.Sequence + 1,
                RelatePackageInstance = current.RelatePackageInstance,
                UsageValue = UsageValues.Format(current.Value - sentAs.Value),
                RecordCount = Math.Max(1, current.RecordCount - sentAs.RecordCount),
                MeteringSn = UsageRowEntity.MeteringSnFor(current.InstanceId, current.PeriodStart, current.RelatePackageInstance, latest.Sequence + 1),
                CreatedAt = time.GetUtcNow(),
            };
            current.UsageValue = sentAs.UsageValue;
            current.RecordCount = sentAs.RecordCount;
            markSent(current);
            try
            {
                await Table.SubmitTransactionAsync(
                    [new TableTransactionAction(TableTransactionActionType.UpdateReplace, current, current.ETag), new TableTransactionAction(TableTransactionActionType.Add, rest)],
                    cancellationToken).ConfigureAwait(false);
                return current;
            }
            catch (TableTransactionFailedException ex) when (ex.Status is 409 or 412)
            {
                // More late records, or the next sequence was opened meanwhile: read again.
            }
        }

        throw new InvalidOperationException($"Usage row {sentAs.RowKey} kept changing while its sent part was split off.");
    }

    private static UsageHourEntity CopyInto(UsageHourEntity target, UsageHourEntity fresh)
    {
        target.Open = fresh.Open;
        target.OpenedAt = fresh.OpenedAt;
        target.LeaseOwner = fresh.LeaseOwner;
        target.LeaseUntil = fresh.LeaseUntil;
        target.ETag = fresh.ETag;
        return target;
    }

    private async Task<UsageRowEntity?> LatestAsync(string partition, string prefix, CancellationToken cancellationToken)
    {
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

    /// <summary>
    /// Replaces rows under their ETags, a hundred per transaction of one partition; a transaction that fails
    /// on one row is redone row by row, so only the rows that changed meanwhile are left out.
    /// </summary>
    private async Task<IReadOnlyList<UsageRowEntity>> ReplaceAllAsync(IReadOnlyList<UsageRowEntity> rows, CancellationToken cancellationToken)
    {
        var written = new List<UsageRowEntity>(rows.Count);
        await Parallel.ForEachAsync(
            rows.GroupBy(r => r.PartitionKey).SelectMany(g => g.Chunk(100)),
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (chunk, ct) =>
            {
                var done = await ReplaceChunkAsync(chunk, ct).ConfigureAwait(false);
                lock (written)
                {
                    written.AddRange(done);
                }
            }).ConfigureAwait(false);
        return written;
    }

    private async Task<IReadOnlyList<UsageRowEntity>> ReplaceChunkAsync(UsageRowEntity[] chunk, CancellationToken cancellationToken)
    {
        try
        {
            var response = await Table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.UpdateReplace, r, r.ETag)), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < chunk.Length; i++)
            {
                chunk[i].ETag = response.Value[i].Headers.ETag ?? chunk[i].ETag;
            }

            return chunk;
        }
        catch (TableTransactionFailedException ex) when (ex.Status is 412 or 404 && chunk.Length > 1)
        {
            var done = new List<UsageRowEntity>(chunk.Length);
            foreach (var row in chunk)
            {
                try
                {
                    var response = await Table.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                    row.ETag = response.Headers.ETag ?? row.ETag;
                    done.Add(row);
                }
                catch (RequestFailedException one) when (one.Status is 412 or 404)
                {
                    // Changed by another run or a late record first: not ours any more.
                }
            }

            return done;
        }
        catch (TableTransactionFailedException ex) when (ex.Status is 412 or 404)
        {
            return [];
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
            var start = HourOf(begin);
            return (start, start.AddHours(1));
        }

        var local = begin.ToOffset(dayOffset);
        var dayStart = new DateTimeOffset(local.Year, local.Month, local.Day, 0, 0, 0, dayOffset).ToUniversalTime();
        return (dayStart, dayStart.AddDays(1));
    }

    /// <summary>The start of the UTC hour containing <paramref name="at"/>.</summary>
    public static DateTimeOffset HourOf(DateTimeOffset at)
    {
        var utc = at.ToUniversalTime();
        return new DateTimeOffset(utc.Year, utc.Month, utc.Day, utc.Hour, 0, 0, TimeSpan.Zero);
    }

    public static string Describe(DateTimeOffset start, bool daily) =>
        (daily ? "day from " : "hour from ") + start.ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);
}
