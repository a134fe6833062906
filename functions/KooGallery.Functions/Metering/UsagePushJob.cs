using KooGallery.Functions.Marketplace;
using Microsoft.ApplicationInsights;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>What one push run did.</summary>
public sealed record UsagePushSummary(int Pushed, int Batches, int LeftPending, int LostToOtherRuns, int UnsentPastAlertAge);

/// <summary>
/// Empties the usage outbox: takes every row whose period has ended (leased by ETag, so an overlapping run
/// cannot take the same row), pushes them in batches of at most 1000 through <see cref="KooGalleryOpenApi.PushUsageAsync"/>,
/// marks them sent with KooGallery's answer, and gives failed ones back, with the reason, to the next run.
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
        var candidates = await usage.FindPushableAsync(now, cancellationToken).ConfigureAwait(false);
        var leased = new List<UsageRowEntity>(candidates.Count);
        foreach (var row in candidates)
        {
            if (await usage.TryLeaseAsync(row, owner, now + settings.LeaseDuration, cancellationToken).ConfigureAwait(false))
            {
                leased.Add(row);
            }
        }

        int pushed = 0, batches = 0, leftPending = 0;
        foreach (var batch in leased.Chunk(KooGalleryOpenApi.MaxUsageRecordsPerPush))
        {
            batches++;
            var records = batch.Select(r => new UsageRecord(
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
                foreach (var row in batch)
                {
                    await usage.MarkSentAsync(row, result.ResultCode, result.ResultMsg, cancellationToken).ConfigureAwait(false);
                }

                pushed += batch.Length;
            }
            catch (MarketplaceException ex)
            {
                logger.LogError("Usage push of {Rows} rows failed ({Error}); they stay pending for the next run.", batch.Length, ex.Message);
                foreach (var row in batch)
                {
                    await usage.ReleaseAsync(row, ex.Message, cancellationToken).ConfigureAwait(false);
                }

                leftPending += batch.Length;
            }
        }

        var unsent = await usage.FindUnsentAsync(now - settings.UnsentAlertAge, cancellationToken).ConfigureAwait(false);
        telemetry.GetMetric("KooGallery.UsageUnsentRows").TrackValue(unsent.Count);
        if (unsent.Count > 0)
        {
            // The unsent-usage alert keys on this line (and the metric above).
            logger.LogWarning(
                "UNSENT USAGE: {Rows} usage rows ended more than {AgeMinutes} min ago and are not accepted by KooGallery yet; oldest period ended {Oldest:O}, e.g. instance {InstanceId}: {LastError}",
                unsent.Count, settings.UnsentAlertAge.TotalMinutes, unsent.Min(r => r.PeriodEnd), unsent[0].InstanceId, unsent[0].LastError);
        }

        var summary = new UsagePushSummary(pushed, batches, leftPending, candidates.Count - leased.Count, unsent.Count);
        logger.LogInformation("Usage push run: {Pushed} rows pushed in {Batches} batches, {LeftPending} left pending, {Lost} taken by another run, {Unsent} unsent past the alert age.",
            summary.Pushed, summary.Batches, summary.LeftPending, summary.LostToOtherRuns, summary.UnsentPastAlertAge);
        return summary;
    }
}
