using KooGallery.Functions.Marketplace;
using Microsoft.ApplicationInsights;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>What one push run did, and what it read to do it.</summary>
public sealed record UsagePushSummary(int Pushed, int Batches, int LeftPending, int HoursHeldByOtherRuns, int UnsentPastAlertAge, int Rejected, int EntitiesRead);

/// <summary>
/// Empties the usage outbox. It reads the hour ledger (the few hours that may hold rows to send), leases each
/// hour by ETag (an overlapping run cannot take the same hour), reads only that hour's pending rows, pushes
/// them in batches of at most 1000 through <see cref="KooGalleryOpenApi.PushUsageAsync"/>, and marks them sent
/// with KooGallery's answer, a hundred per transaction, under the ETag of the read they were pushed from. A batch KooGallery refuses for a business reason is split
/// until the rows it refuses are alone: those are marked rejected (alerted), the rest go out. A transient
/// failure gives the rows back, with the reason, to the next run. Cost follows what is due, not history.
/// </summary>
public sealed class UsagePushJob(
    UsageStore usage,
    KooGalleryOpenApi koogallery,
    IOptionsMonitor<MeteringOptions> options,
    TimeProvider time,
    TelemetryClient telemetry,
    ILogger<UsagePushJob> logger)
{
    /// <summary>Batches of 1000 rows pushed at the same time.</summary>
    public const int ParallelPushes = 4;

    public async Task<UsagePushSummary> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var settings = options.CurrentValue;
        var owner = Guid.NewGuid().ToString("N");
        var hours = await usage.OpenHoursAsync(now, cancellationToken).ConfigureAwait(false);
        var entitiesRead = hours.Count;
        var taken = new List<(UsageHourEntity Hour, IReadOnlyList<UsageRowEntity> Rows)>(hours.Count);
        var lostHours = 0;
        foreach (var hour in hours)
        {
            if (!await usage.TryLeaseHourAsync(hour, owner, now + settings.LeaseDuration, cancellationToken).ConfigureAwait(false))
            {
                lostHours++;
                continue;
            }

            var rows = await usage.PendingRowsAsync(hour.RowKey, cancellationToken).ConfigureAwait(false);
            entitiesRead += rows.Count;
            taken.Add((hour, rows));
        }

        // A few batches in flight at once: each push waits on KooGallery, its marks on storage.
        var run = new Run();
        await Parallel.ForEachAsync(
            taken.SelectMany(h => h.Rows).Where(r => r.PeriodEnd <= now).OrderBy(r => r.PeriodEnd).Chunk(KooGalleryOpenApi.MaxUsageRecordsPerPush),
            new ParallelOptions { MaxDegreeOfParallelism = ParallelPushes, CancellationToken = cancellationToken },
            async (batch, ct) =>
            {
                run.Add(batches: 1);
                await PushAsync(batch, now, run, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);

        // An hour whose rows are all final now, and into which no intake opened a row lately, needs no more reads.
        var finished = new HashSet<string>(run.Finished.Select(r => r.PartitionKey + "|" + r.RowKey), StringComparer.Ordinal);
        bool Done(UsageRowEntity r) => finished.Contains(r.PartitionKey + "|" + r.RowKey);
        foreach (var (hour, rows) in taken)
        {
            await usage.ReleaseHourAsync(hour, rows.All(Done) && hour.OpenedAt < now - UsageStore.SettleTime, cancellationToken).ConfigureAwait(false);
        }

        var alertBefore = now - settings.UnsentAlertAge;
        var unsent = taken.SelectMany(h => h.Rows).Where(r => r.PeriodEnd < alertBefore && !Done(r)).ToList();
        telemetry.GetMetric("KooGallery.UsageUnsentRows").TrackValue(unsent.Count);
        if (unsent.Count > 0)
        {
            // The unsent-usage alert keys on this line (and the metric above).
            logger.LogWarning(
                "UNSENT USAGE: {Rows} usage rows ended more than {AgeMinutes} min ago and are not accepted by KooGallery yet; oldest period ended {Oldest:O}, e.g. instance {InstanceId}: {LastError}",
                unsent.Count, settings.UnsentAlertAge.TotalMinutes, unsent.Min(r => r.PeriodEnd), unsent[0].InstanceId, unsent[0].LastError);
        }

        var summary = new UsagePushSummary(run.Pushed, run.Batches, run.LeftPending, lostHours, unsent.Count, run.Rejected, entitiesRead);
        logger.LogInformation(
            "Usage push run: {Pushed} rows pushed in {Batches} batches, {Rejected} rejected by KooGallery, {LeftPending} left pending, {Lost} hours held by another run, {Unsent} unsent past the alert age; {EntitiesRead} entities read.",
            summary.Pushed, summary.Batches, summary.Rejected, summary.LeftPending, summary.HoursHeldByOtherRuns, summary.UnsentPastAlertAge, summary.EntitiesRead);
        return summary;
    }

    private async Task PushAsync(IReadOnlyList<UsageRowEntity> rows, DateTimeOffset now, Run run, CancellationToken cancellationToken)
    {
        var records = rows.Select(r => new UsageRecord(
            r.InstanceId,
            UsageRecord.FormatTime(now),
            UsageRecord.FormatTime(r.PeriodStart),
            UsageRecord.FormatTime(r.PeriodEnd),
            r.UsageValue,
            r.MeteringSn,
            r.RelatePackageInstance)).ToList();
        try
        {
            var result = await koogallery.PushUsageAsync(records, cancellationToken).ConfigureAwait(false);
            var marked = await usage.MarkSentAsync(rows, result.ResultCode, result.ResultMsg, cancellationToken).ConfigureAwait(false);
            run.Add(pushed: rows.Count, finished: marked);
        }
        catch (MarketplaceBusinessException ex) when (!ex.IsTransient && rows.Count > 1)
        {
            // KooGallery refused the batch for something in it: halve it until the rows it refuses stand alone.
            logger.LogWarning("Usage push of {Rows} rows refused ({ResultCode}: {ResultMsg}); splitting the batch to find the rows it refuses.", rows.Count, ex.ResultCode, ex.ResultMsg);
            var half = rows.Count / 2;
            await PushAsync(rows.Take(half).ToList(), now, run, cancellationToken).ConfigureAwait(false);
            await PushAsync(rows.Skip(half).ToList(), now, run, cancellationToken).ConfigureAwait(false);
        }
        catch (MarketplaceBusinessException ex) when (!ex.IsTransient)
        {
            var row = rows[0];
            var marked = await usage.MarkRejectedAsync(row, ex.ResultCode, ex.ResultMsg, cancellationToken).ConfigureAwait(false);
            run.Add(rejected: 1, finished: marked ? [row] : []);

            // The rejected-usage alert keys on this line.
            logger.LogError(
                "REJECTED USAGE: KooGallery refused the usage row of instance {InstanceId} for {PeriodStart:O} (metering_sn {MeteringSn}, value {UsageValue}): {ResultCode} {ResultMsg}. It is kept as rejected and not sent again.",
                row.InstanceId, row.PeriodStart, row.MeteringSn, row.UsageValue, ex.ResultCode, ex.ResultMsg);
        }
        catch (MarketplaceException ex)
        {
            logger.LogError("Usage push of {Rows} rows failed ({Error}); they stay pending for the next run.", rows.Count, ex.Message);
            await usage.ReleaseAsync(rows, ex.Message, cancellationToken).ConfigureAwait(false);
            run.Add(leftPending: rows.Count);
        }
    }

    /// <summary>The tally of one run; batches report into it concurrently.</summary>
    private sealed class Run
    {
        private readonly Lock gate = new();
        private readonly List<UsageRowEntity> finished = [];

        public int Pushed { get; private set; }

        public int Batches { get; private set; }

        public int LeftPending { get; private set; }

        public int Rejected { get; private set; }

        public IReadOnlyList<UsageRowEntity> Finished
        {
            get
            {
                lock (gate)
                {
                    return finished.ToList();
                }
            }
        }

        public void Add(int pushed = 0, int batches = 0, int leftPending = 0, int rejected = 0, IEnumerable<UsageRowEntity>? finished = null)
        {
            lock (gate)
            {
                Pushed += pushed;
                Batches += batches;
                LeftPending += leftPending;
                Rejected += rejected;
                this.finished.AddRange(finished ?? []);
            }
        }
    }
}
