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
/// Usage rows in Table Storage (see <see cref="UsageRowEntity"/>) and the schedule rows that find them. The
/// rule that keeps every unit: a row's value grows only while it is <see cref="UsageStatus.Pending"/>; a push
/// seals it (<see cref="UsageStatus.Offered"/>) in the same ETag-checked write that takes it, before KooGallery
/// sees it, and from then on it is sent only as it is, under the same <c>metering_sn</c>, until KooGallery
/// accepts or refuses it. A record and its id marker are one transaction, so a record is counted once or not at
/// all; the hour ledger (<see cref="UsageHourEntity"/>) is marked around every row creation, so the push
/// never closes an hour that still holds a row to send.
/// </summary>
public sealed class UsageStore(TableServiceClient tables, IOptions<StorageOptions> names, TimeProvider time)
{
    /// <summary>A transaction holds 100 operations: the row and up to 99 record markers.</summary>
    public const int MaxRecordsPerWrite = 99;

    /// <summary>
    /// An hour is closed only when intake last marked it longer ago than this. Intake marks the hour before and
    /// after creating a row, so a close can only miss a row whose creation outlived this margin and whose writer
    /// died before its second mark; storage calls are bounded to seconds, so this margin is ample.
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
    /// are counted now. A sealed row is never added to. Debug instances' rows are kept as
    /// <see cref="UsageStatus.Debug"/>, never sent.
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
            var created = false;
            if (latest is not null && !UsageStatus.IsSealed(latest.Status))
            {
                row = latest;
                row.UsageValue = UsageValues.Format(row.Value + sum);
                row.RecordCount += remaining.Count;
                actions.Add(new TableTransactionAction(TableTransactionActionType.UpdateReplace, row, row.ETag));
            }
            else
            {
                // No row yet, or the latest one is sealed (offered, sent or refused): this opens the next sequence.
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
                await MarkHourAsync(periodEnd, debug, cancellationToken).ConfigureAwait(false);
                created = true;
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
                if (!debug && (created || duplicates.Count > 0))
                {
                    // Marked again after the row exists: a push that read this hour's rows before the row was
                    // there now fails to close the hour (its ETag is stale) or sees it reopened. A resend (some
                    // records duplicate) marks it too, in case the first attempt died between its row and this mark.
                    await MarkHourAsync(periodEnd, debug, cancellationToken).ConfigureAwait(false);
                }

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
                // Another record changed or opened the row first, or a push sealed it: read again.
                await Task.Delay(Random.Shared.Next(1, 10 + (10 * attempt)), cancellationToken).ConfigureAwait(false);
            }
        }

        if (remaining.Count == 0)
        {
            if (!debug)
            {
                await MarkHourAsync(periodEnd, debug, cancellationToken).ConfigureAwait(false);
            }

            return duplicates;
        }

        throw new InvalidOperationException($"Usage of instance {instanceId} for {periodStart:O} kept changing under concurrent writers.");
    }

    /// <summary>
    /// Marks an hour as holding rows to push (an unconditional merge: it never waits on a push, and changes the
    /// ETag a push's close is conditioned on). Debug-only usage gets a closed ledger row instead, if the hour has
    /// none, so that retention finds the hour.
    /// </summary>
    public async Task MarkHourAsync(DateTimeOffset periodEnd, bool debug, CancellationToken cancellationToken)
    {
        if (!debug)
        {
            await Schedule.UpsertEntityAsync(
                new UsageHourEntity { RowKey = UsageRowEntity.HourKey(periodEnd), Open = true, OpenedAt = time.GetUtcNow() },
                TableUpdateMode.Merge,
                cancellationToken).ConfigureAwait(false);
            return;
        }

        try
        {
            await Schedule.AddEntityAsync(new UsageHourEntity { RowKey = UsageRowEntity.HourKey(periodEnd), Open = false }, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            // The hour is known already.
        }
    }

    /// <summary>Marks an hour as holding rows to push (tests and the benchmark seed rows this way).</summary>
    public Task OpenHourAsync(DateTimeOffset periodEnd, CancellationToken cancellationToken) => MarkHourAsync(periodEnd, debug: false, cancellationToken);

    /// <summary>Open hours up to <paramref name="upTo"/>'s hour: the only partitions a push run reads.</summary>
    public async Task<IReadOnlyList<UsageHourEntity>> OpenHoursAsync(DateTimeOffset upTo, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {UsageHourEntity.Partition} and RowKey le {UsageRowEntity.HourKey(upTo)} and Open eq {true}");
        return await Schedule.QueryAsync<UsageHourEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ledger rows of the hours in [<paramref name="from"/>, <paramref name="to"/>]: one bounded range read.</summary>
    public Task<IReadOnlyList<UsageHourEntity>> HoursAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        HourRangeAsync<UsageHourEntity>(UsageHourEntity.Partition, from, to, cancellationToken);

    /// <summary>The push runs' figures for the hours in [<paramref name="from"/>, <paramref name="to"/>]: one bounded range read.</summary>
    public Task<IReadOnlyList<UsageHourRunEntity>> HourRunsAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        HourRangeAsync<UsageHourRunEntity>(UsageHourRunEntity.Partition, from, to, cancellationToken);

    private async Task<IReadOnlyList<T>> HourRangeAsync<T>(string partition, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
        where T : class, ITableEntity
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {UsageRowEntity.HourKey(from)} and RowKey le {UsageRowEntity.HourKey(to)}");
        return await Schedule.QueryAsync<T>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Hours older than <paramref name="before"/>'s hour, for retention.</summary>
    public async Task<IReadOnlyList<UsageHourEntity>> HoursBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {UsageHourEntity.Partition} and RowKey lt {UsageRowEntity.HourKey(before)}");
        return await Schedule.QueryAsync<UsageHourEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes an hour for one push run: the hour's run row, created or replaced under its ETag. Null when another
    /// run holds an unexpired lease. Only push runs write this row, so intake never makes a lease fail.
    /// </summary>
    public async Task<UsageHourRunEntity?> TryLeaseHourAsync(string hourKey, string owner, DateTimeOffset until, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var found = await Schedule.GetEntityIfExistsAsync<UsageHourRunEntity>(UsageHourRunEntity.Partition, hourKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            var run = found.HasValue && found.Value is { } existing ? existing : new UsageHourRunEntity { RowKey = hourKey };
            if (run.LeaseOwner is not null && run.LeaseOwner != owner && run.LeaseUntil > time.GetUtcNow())
            {
                return null;
            }

            run.LeaseOwner = owner;
            run.LeaseUntil = until;
            try
            {
                var response = found.HasValue
                    ? await Schedule.UpdateEntityAsync(run, run.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false)
                    : await Schedule.AddEntityAsync(run, cancellationToken).ConfigureAwait(false);
                run.ETag = response.Headers.ETag ?? run.ETag;
                return run;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412 or 404)
            {
                // Another run took or gave back the hour at the same moment: look again.
            }
        }

        return null;
    }

    /// <summary>
    /// Gives an hour back after a run: the lease is dropped and the run's figures are added. Best effort: an
    /// unreleased lease simply expires.
    /// </summary>
    public async Task ReleaseHourAsync(UsageHourRunEntity run, CancellationToken cancellationToken)
    {
        run.LeaseOwner = null;
        run.LeaseUntil = null;
        run.LastRunAt = time.GetUtcNow();
        try
        {
            await Schedule.UpdateEntityAsync(run, run.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status is 412 or 404)
        {
            // Our lease had expired and another run took the hour: its figures stand, ours are in the log.
        }
    }

    /// <summary>
    /// Closes an hour: only under the ETag read before its rows were read, and only when intake last marked it
    /// more than <see cref="SettleTime"/> before <paramref name="now"/>. False when it stays open.
    /// </summary>
    public async Task<bool> TryCloseHourAsync(UsageHourEntity hour, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (hour.OpenedAt >= now - SettleTime)
        {
            return false;
        }

        var closed = new UsageHourEntity { RowKey = hour.RowKey, Open = false, OpenedAt = hour.OpenedAt, ETag = hour.ETag };
        try
        {
            await Schedule.UpdateEntityAsync(closed, hour.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is 412 or 404)
        {
            // Intake or a re-drive marked the hour after this run read it: it stays open for the next run.
            return false;
        }
    }

    /// <summary>The rows of an hour still to be sent: pending ones to seal, and offered ones whose outcome is unknown.</summary>
    public async Task<IReadOnlyList<UsageRowEntity>> UnsentRowsAsync(string hourKey, CancellationToken cancellationToken)
    {
        var partition = UsageRowEntity.PartitionPrefix + hourKey;
        var filter = TableClient.CreateQueryFilter(
            $"PartitionKey eq {partition} and RowKey ge {UsageRowEntity.RowPrefix} and RowKey lt {"row}"} and (Status eq {UsageStatus.Pending} or Status eq {UsageStatus.Offered})");
        return await Table.QueryAsync<UsageRowEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Seals pending rows for a push run (<paramref name="run"/>), a hundred per transaction, each under the ETag it
    /// was read with; a row that took records meanwhile is read again and sealed with its new value. Returns the rows
    /// this run may offer, as sealed; rows another run sealed or finished meanwhile are left to it. A row this run
    /// sealed whose write was retried (and so reported a conflict) is recognised by <see cref="UsageRowEntity.OfferedBy"/>.
    /// Offered rows pass as they are.
    /// </summary>
    public async Task<IReadOnlyList<UsageRowEntity>> SealAsync(IReadOnlyList<UsageRowEntity> rows, string run, CancellationToken cancellationToken)
    {
        var sealedRows = rows.Where(r => r.Status == UsageStatus.Offered).ToList();
        var toSeal = rows.Where(r => r.Status == UsageStatus.Pending).ToList();
        var now = time.GetUtcNow();
        for (var attempt = 0; attempt < 5 && toSeal.Count > 0; attempt++)
        {
            foreach (var row in toSeal)
            {
                row.Status = UsageStatus.Offered;
                row.OfferedAt = now;
                row.OfferedBy = run;
            }

            var written = await PatchAllAsync(toSeal, Seal, cancellationToken).ConfigureAwait(false);
            sealedRows.AddRange(written);
            var changed = toSeal.Except(written).ToList();
            toSeal = [];
            foreach (var row in changed)
            {
                var found = await Table.GetEntityIfExistsAsync<UsageRowEntity>(row.PartitionKey, row.RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
                switch (found.HasValue ? found.Value : null)
                {
                    case { Status: UsageStatus.Pending } fresh:
                        toSeal.Add(fresh);
                        break;
                    case { Status: UsageStatus.Offered } mine when mine.OfferedBy == run:
                        sealedRows.Add(mine);
                        break;
                }
            }
        }

        return sealedRows;
    }

    private static TableEntity Seal(UsageRowEntity row) => new(row.PartitionKey, row.RowKey)
    {
        [nameof(UsageRowEntity.Status)] = row.Status,
        [nameof(UsageRowEntity.OfferedAt)] = row.OfferedAt,
        [nameof(UsageRowEntity.OfferedBy)] = row.OfferedBy,
    };

    private static TableEntity Sent(UsageRowEntity row) => new(row.PartitionKey, row.RowKey)
    {
        [nameof(UsageRowEntity.Status)] = row.Status,
        [nameof(UsageRowEntity.SentAt)] = row.SentAt,
        [nameof(UsageRowEntity.PushAttempts)] = row.PushAttempts,
        [nameof(UsageRowEntity.KooGalleryResultCode)] = row.KooGalleryResultCode,
        [nameof(UsageRowEntity.KooGalleryResultMsg)] = row.KooGalleryResultMsg,
    };

    /// <summary>Marks sealed rows sent with KooGallery's answer, a hundred per transaction. Returns the rows now final.</summary>
    public async Task<IReadOnlyList<UsageRowEntity>> MarkSentAsync(IReadOnlyList<UsageRowEntity> rows, string resultCode, string? resultMsg, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        foreach (var row in rows)
        {
            row.Status = UsageStatus.Sent;
            row.SentAt = now;
            row.PushAttempts++;
            row.KooGalleryResultCode = resultCode;
            row.KooGalleryResultMsg = resultMsg;
        }

        return await PatchAllAsync(rows, Sent, cancellationToken, reread: true).ConfigureAwait(false);
    }

    /// <summary>
    /// KooGallery refused this row on its own: the refusal is listed first (so an operator always finds it), then
    /// the row is marked with the reason. Neither is sent again until an operator re-drives it.
    /// </summary>
    public async Task<bool> MarkRejectedAsync(UsageRowEntity row, string resultCode, string? resultMsg, CancellationToken cancellationToken)
    {
        await Schedule.UpsertEntityAsync(
            new UsageRejectedEntity
            {
                RowKey = UsageRejectedEntity.RowKeyFor(row),
                UsagePartition = row.PartitionKey,
                UsageRowKey = row.RowKey,
                InstanceId = row.InstanceId,
                PeriodStart = row.PeriodStart,
                RelatePackageInstance = row.RelatePackageInstance,
                UsageValue = row.UsageValue,
                MeteringSn = row.MeteringSn,
                ResultCode = resultCode,
                ResultMsg = resultMsg,
                RejectedAt = time.GetUtcNow(),
            },
            TableUpdateMode.Replace,
            cancellationToken).ConfigureAwait(false);
        row.Status = UsageStatus.Rejected;
        row.PushAttempts++;
        row.KooGalleryResultCode = resultCode;
        row.KooGalleryResultMsg = resultMsg;
        row.LastError = $"KooGallery refused this row: {resultCode} {resultMsg}";
        return (await PatchAllAsync([row], r => r, cancellationToken, reread: true).ConfigureAwait(false)).Count == 1;
    }

    /// <summary>Usage rows KooGallery refused and no operator has re-driven yet: one partition read.</summary>
    public async Task<IReadOnlyList<UsageRejectedEntity>> RejectedAsync(CancellationToken cancellationToken) =>
        await Schedule.QueryAsync<UsageRejectedEntity>($"PartitionKey eq '{UsageRejectedEntity.Partition}'", cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Puts a refused row back in the push's way, as it was sealed (same value, same <c>metering_sn</c>: whether or
    /// not KooGallery kept anything under it, sending it again cannot count it twice), recorded with the operator.
    /// Order of writes, each safe to repeat: the row becomes offered, its hour is marked open, the listing goes.
    /// Null when <paramref name="rejected"/> no longer points at a row.
    /// </summary>
    public async Task<UsageRowEntity?> RedriveRejectedAsync(UsageRejectedEntity rejected, string actor, CancellationToken cancellationToken)
    {
        var found = await Table.GetEntityIfExistsAsync<UsageRowEntity>(rejected.UsagePartition, rejected.UsageRowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (!found.HasValue || found.Value is not { } row)
        {
            await Schedule.DeleteEntityAsync(rejected.PartitionKey, rejected.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
            return null;
        }

        if (row.Status == UsageStatus.Rejected)
        {
            row.Status = UsageStatus.Offered;
            row.RedrivenBy = actor.Length > 200 ? actor[..200] : actor;
            row.RedrivenAt = time.GetUtcNow();
            row.LastError = null;
            await Table.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        }

        await MarkHourAsync(row.PeriodEnd, debug: false, cancellationToken).ConfigureAwait(false);
        await Schedule.DeleteEntityAsync(rejected.PartitionKey, rejected.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
        return row;
    }

    /// <summary>An instance's rows of every hour the ledger knows (tests; operators go through the windowed overload).</summary>
    public Task<IReadOnlyList<UsageRowEntity>> ListAsync(string instanceId, CancellationToken cancellationToken) =>
        ListAsync(instanceId, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, cancellationToken);

    /// <summary>
    /// An instance's rows whose hour (period end) falls in [<paramref name="from"/>, <paramref name="to"/>]: the hour
    /// ledger's rows for that range (one range read), then the instance's key range in each of those hours'
    /// partitions — reads bounded by the hours asked for and the instance's own rows, never by the table.
    /// </summary>
    public async Task<IReadOnlyList<UsageRowEntity>> ListAsync(string instanceId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var hours = await HoursAsync(from, to, cancellationToken).ConfigureAwait(false);
        var prefix = $"{UsageRowEntity.RowPrefix}{InstanceKeys.Escape(instanceId)}|";
        var found = new List<UsageRowEntity>[hours.Count];
        await Parallel.ForEachAsync(
            Enumerable.Range(0, hours.Count),
            new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken },
            async (i, token) =>
            {
                var filter = TableClient.CreateQueryFilter($"PartitionKey eq {UsageRowEntity.PartitionPrefix + hours[i].RowKey} and RowKey ge {prefix} and RowKey lt {prefix + "~"}");
                found[i] = await Table.QueryAsync<UsageRowEntity>(filter, cancellationToken: token).ToListAsync(token).ConfigureAwait(false);
            }).ConfigureAwait(false);
        return found.SelectMany(rows => rows).ToList();
    }

    /// <summary>
    /// Writes rows as they are, a hundred per transaction, opening their hours (tests and the benchmark seed rows
    /// this way). Rows already there are left as they are, so a seed can be run again against the same storage.
    /// </summary>
    public async Task AddRowsAsync(IEnumerable<UsageRowEntity> rows, CancellationToken cancellationToken)
    {
        var byPartition = rows.GroupBy(r => r.PartitionKey).ToList();
        foreach (var hour in byPartition)
        {
            // An hour of final rows only gets a closed ledger row, as intake's debug rows do: retention and listings find it.
            await MarkHourAsync(hour.First().PeriodEnd, debug: hour.All(r => UsageStatus.IsFinal(r.Status)), cancellationToken).ConfigureAwait(false);
        }

        await Parallel.ForEachAsync(
            byPartition.SelectMany(g => g.Chunk(100)),
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (chunk, ct) =>
            {
                try
                {
                    await Table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Add, r)), ct).ConfigureAwait(false);
                }
                catch (RequestFailedException ex) when (ex.Status == 409 || ex.ErrorCode == "EntityAlreadyExists")
                {
                    // Rows seeded before, or this very batch applied by an attempt whose answer was lost and retried.
                    foreach (var row in chunk)
                    {
                        try
                        {
                            await Table.AddEntityAsync(row, ct).ConfigureAwait(false);
                        }
                        catch (RequestFailedException one) when (one.Status == 409 || one.ErrorCode == "EntityAlreadyExists")
                        {
                            // Seeded before.
                        }
                    }
                }
            })
            .ConfigureAwait(false);
    }

    /// <summary>
    /// Retention: deletes an hour's rows, markers and run figures when none is left to send; false (and nothing
    /// deleted) when the hour still holds rows that are not final.
    /// </summary>
    public async Task<(bool Purged, int Deleted)> PurgeHourAsync(UsageHourEntity hour, CancellationToken cancellationToken)
    {
        var partition = UsageRowEntity.PartitionPrefix + hour.RowKey;
        var rows = await Table.QueryAsync<TableEntity>($"PartitionKey eq '{partition}'", select: ["PartitionKey", "RowKey", "Status"], cancellationToken: cancellationToken)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        if (rows.Any(r => r.GetString("Status") is UsageStatus.Pending or UsageStatus.Offered))
        {
            return (false, 0);
        }

        foreach (var chunk in rows.Chunk(100))
        {
            await Table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, r, ETag.All)), cancellationToken).ConfigureAwait(false);
        }

        await Schedule.DeleteEntityAsync(UsageHourRunEntity.Partition, hour.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
        await Schedule.DeleteEntityAsync(hour.PartitionKey, hour.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
        return (true, rows.Count);
    }

    public Task ParkAsync(ParkedUsageEntity parked, CancellationToken cancellationToken) => Schedule.UpsertEntityAsync(parked, TableUpdateMode.Replace, cancellationToken);

    public async Task<IReadOnlyList<ParkedUsageEntity>> ParkedAsync(CancellationToken cancellationToken) =>
        await Schedule.QueryAsync<ParkedUsageEntity>($"PartitionKey eq '{ParkedUsageEntity.Partition}'", cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);

    public async Task<ParkedUsageEntity?> ParkedAsync(string id, CancellationToken cancellationToken)
    {
        var found = await Schedule.GetEntityIfExistsAsync<ParkedUsageEntity>(ParkedUsageEntity.Partition, InstanceKeys.Escape(id), cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    public Task UnparkAsync(ParkedUsageEntity parked, CancellationToken cancellationToken) =>
        Schedule.DeleteEntityAsync(parked.PartitionKey, parked.RowKey, ETag.All, cancellationToken);

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
    /// Writes <paramref name="patch"/> of each row under the row's ETag (a merge: only what the step changes goes
    /// over the wire), a hundred per transaction of one partition; a transaction that fails on one row is redone row
    /// by row, so only the rows that changed meanwhile are left out. With <paramref name="reread"/> (marks on sealed
    /// rows, whose value no longer changes), a row whose ETag is stale — the SDK retried a write that had succeeded,
    /// or another run marked it — is read again and written unless it is final already.
    /// </summary>
    private async Task<IReadOnlyList<UsageRowEntity>> PatchAllAsync(IReadOnlyList<UsageRowEntity> rows, Func<UsageRowEntity, ITableEntity> patch, CancellationToken cancellationToken, bool reread = false)
    {
        var written = new List<UsageRowEntity>(rows.Count);
        await Parallel.ForEachAsync(
            rows.GroupBy(r => r.PartitionKey).SelectMany(g => g.Chunk(100)),
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (chunk, ct) =>
            {
                var done = await PatchChunkAsync(chunk, patch, reread, ct).ConfigureAwait(false);
                lock (written)
                {
                    written.AddRange(done);
                }
            }).ConfigureAwait(false);
        return written;
    }

    private async Task<IReadOnlyList<UsageRowEntity>> PatchChunkAsync(UsageRowEntity[] chunk, Func<UsageRowEntity, ITableEntity> patch, bool reread, CancellationToken cancellationToken)
    {
        try
        {
            var response = await Table.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.UpdateMerge, patch(r), r.ETag)), cancellationToken).ConfigureAwait(false);
            for (var i = 0; i < chunk.Length; i++)
            {
                chunk[i].ETag = response.Value[i].Headers.ETag ?? chunk[i].ETag;
            }

            return chunk;
        }
        catch (TableTransactionFailedException ex) when (ex.Status is 412 or 404)
        {
            var done = new List<UsageRowEntity>(chunk.Length);
            foreach (var row in chunk)
            {
                if (await PatchOneAsync(row, patch, reread, cancellationToken).ConfigureAwait(false))
                {
                    done.Add(row);
                }
            }

            return done;
        }
    }

    private async Task<bool> PatchOneAsync(UsageRowEntity row, Func<UsageRowEntity, ITableEntity> patch, bool reread, CancellationToken cancellationToken)
    {
        try
        {
            var response = await Table.UpdateEntityAsync(patch(row), row.ETag, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
            row.ETag = response.Headers.ETag ?? row.ETag;
            return true;
        }
        catch (RequestFailedException one) when (one.Status == 412 && reread)
        {
            var found = await Table.GetEntityIfExistsAsync<UsageRowEntity>(row.PartitionKey, row.RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!found.HasValue || found.Value is not { } current)
            {
                return false;
            }

            if (UsageStatus.IsFinal(current.Status))
            {
                return true; // another run (or the SDK's own retry) marked it already
            }

            row.ETag = current.ETag;
            return await PatchOneAsync(row, patch, reread: false, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException one) when (one.Status is 412 or 404)
        {
            // Changed by a late record or another run first: not ours any more.
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
