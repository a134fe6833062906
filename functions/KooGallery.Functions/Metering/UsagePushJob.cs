using KooGallery.Functions.Marketplace;
using Microsoft.ApplicationInsights;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>What one push run did, and what it read to do it.</summary>
public sealed record UsagePushSummary(int Pushed, int Batches, int LeftPending, int LostToOtherRuns, int UnsentPastAlertAge, int Rejected, int EntitiesRead);

/// <summary>
/// Empties the usage outbox. It reads the hour ledger (the few hours that may hold rows to send), then only
/// those hours' unfinished rows; leases them by ETag a hundred per transaction (an overlapping run cannot take
/// the same row); pushes them in batches of at most 1000 through <see cref="KooGalleryOpenApi.PushUsageAsync"/>;
/// and marks them sent with KooGallery's answer. A batch KooGallery refuses for a business reason is split
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
    public async Task<UsagePushSummary> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var settings = options.CurrentValue;
        var owner = Guid.NewGuid().ToString("N");
        var hours = await usage.OpenHoursAsync(now, cancellationToken).ConfigureAwait(false);
        var entitiesRead = hours.Count;
        var unfinished = new List<(Metering.UsageHourEntity Hour, IReadOnlyList<UsageRowEntity> Rows)>(hours.Count);
        foreach (var hour in hours)
        {
            var rows = await usage.UnfinishedRowsAsync(hour.RowKey, cancellationToken).ConfigureAwait(false);
            entitiesRead += rows.Count;
            unfinished.Add((hour, rows));
        }

        var takeable = unfinished.SelectMany(h => h.Rows)
            .Where(r => r.PeriodEnd <= now && (r.Status == UsageStatus.Pending || (r.Status == UsageStatus.Sending && r.LeaseUntil < now)))
            .ToList();
        var leased = await usage.LeaseAsync(takeable, owner, now + settings.LeaseDuration, cancellationToken).ConfigureAwait(false);

        var run = new Run();
        foreach (var batch in leased.OrderBy(r => r.PeriodEnd).Chunk(KooGalleryOpenApi.MaxUsageRecordsPerPush))
        {
            run.Batches++;
            await PushAsync(batch, now, run, cancellationToken).ConfigureAwait(false);
        }

        // An hour whose rows are all final now, and into which no intake opened a row lately, needs no more reads.
        var finished = new HashSet<string>(run.Finished.Select(r => r.PartitionKey + "|" + r.RowKey), StringComparer.Ordinal);
        foreach (var (hour, rows) in unfinished)
        {
            if (rows.All(r => finished.Contains(r.PartitionKey + "|" + r.RowKey)) && hour.OpenedAt < now - UsageStore.SettleTime)
            {
                await usage.TryCloseHourAsync(hour, cancellationToken).ConfigureAwait(false);
            }
        }

        var alertBefore = now - settings.UnsentAlertAge;
        var unsent = unfinished.SelectMany(h => h.Rows)
            .Where(r => r.PeriodEnd < alertBefore && !finished.Contains(r.PartitionKey + "|" + r.RowKey))
            .ToList();
        telemetry.GetMetric("KooGallery.UsageUnsentRows").TrackValue(unsent.Count);
        if (unsent.Count > 0)
        {
            // The unsent-usage alert keys on this line (and the metric above).
            logger.LogWarning(
                "UNSENT USAGE: {Rows} usage rows ended more than {AgeMinutes} min ago and are not accepted by KooGallery yet; oldest period ended {Oldest:O}, e.g. instance {InstanceId}: {LastError}",
                unsent.Count, settings.UnsentAlertAge.TotalMinutes, unsent.Min(r => r.PeriodEnd), unsent[0].InstanceId, unsent[0].LastError);
        }

        var summary = new UsagePushSummary(run.Pushed, run.Batches, run.LeftPending, takeable.Count - leased.Count, unsent.Count, run.Rejected, entitiesRead);
        logger.LogInformation(
            "Usage push run: {Pushed} rows pushed in {Batches} batches, {Rejected} rejected by KooGallery, {LeftPending} left pending, {Lost} taken by another run, {Unsent} unsent past the alert age; {EntitiesRead} entities read.",
            summary.Pushed, summary.Batches, summary.Rejected, summary.LeftPending, summary.LostToOtherRuns, summary.UnsentPastAlertAge, summary.EntitiesRead);
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
            run.Pushed += rows.Count;
            run.Finished.AddRange(marked);
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
            if (await usage.MarkRejectedAsync(row, ex.ResultCode, ex.ResultMsg, cancellationToken).ConfigureAwait(false))
            {
                run.Finished.Add(row);
            }

            run.Rejected++;

            // The rejected-usage alert keys on this line.
            logger.LogError(
                "REJECTED USAGE: KooGallery refused the usage row of instance {InstanceId} for {PeriodStart:O} (metering_sn {MeteringSn}, value {UsageValue}): {ResultCode} {ResultMsg}. It is kept as rejected and not sent again.",
                row.InstanceId, row.PeriodStart, row.MeteringSn, row.UsageValue, ex.ResultCode, ex.ResultMsg);
        }
        catch (MarketplaceException ex)
        {
            logger.LogError("Usage push of {Rows} rows failed ({Error}); they stay pending for the next run.", rows.Count, ex.Message);
            await usage.ReleaseAsync(rows, ex.Message, cancellationToken).ConfigureAwait(false);
            run.LeftPending += rows.Count;
        }
    }

    private sealed class Run
    {
        public int Pushed { get; set; }

        public int Batches { get; set; }

        public int LeftPending { get; set; }

        public int Rejected { get; set; }

        public List<UsageRowEntity> Finished { get; } = [];
    }
}
