using KooGallery.Functions.Instances;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>What a retention run deleted.</summary>
public sealed record RetentionSummary(int UsageHoursPurged, int UsageEntitiesDeleted, int UsageHoursKept, int EventLinesDeleted);

/// <summary>
/// Keeps storage from growing with history: usage hours older than <see cref="MeteringOptions.SentRetention"/>
/// are deleted whole (rows and record markers) once nothing in them is left to send, and event logs are
/// trimmed to <see cref="LifecycleOptions.EventRetention"/>. Both find their work through the schedule
/// table, never by scanning. The first run after an upgrade also writes the index rows of instances created
/// before the console's indexes existed (<see cref="InstanceRepository.BackfillIndexAsync"/>), and every run recounts
/// the instances per state for the console (<see cref="InstanceStateCounts.RecountAsync"/>): one read of the instance
/// rows a day, instead of one per page load.
/// </summary>
public sealed class Retention(UsageStore usage, LifecycleSweeper sweeper, InstanceRepository instances, InstanceStateCounts stateCounts, IOptionsMonitor<MeteringOptions> options, TimeProvider time, ILogger<Retention> logger)
{
    public async Task<RetentionSummary> RunAsync(CancellationToken cancellationToken)
    {
        var before = time.GetUtcNow() - options.CurrentValue.SentRetention;
        var hours = await usage.HoursBeforeAsync(before, cancellationToken).ConfigureAwait(false);
        int purged = 0, deleted = 0, kept = 0;
        foreach (var hour in hours)
        {
            var (done, count) = await usage.PurgeHourAsync(hour, cancellationToken).ConfigureAwait(false);
            if (done)
            {
                purged++;
                deleted += count;
            }
            else
            {
                kept++;
                logger.LogWarning("Usage hour {Hour} is past Metering__SentRetention but still holds rows not accepted by KooGallery; kept.", hour.RowKey);
            }
        }

        var events = await sweeper.PurgeEventsAsync(cancellationToken).ConfigureAwait(false);

        // The console's per-state figures start again from the instance rows: whatever a crashed worker did not write is back.
        await stateCounts.RecountAsync(await instances.CountByStateAsync(cancellationToken).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

        // Once per deployment that had instances before the console's indexes: a single read of them all.
        if (await instances.BackfillIndexAsync(cancellationToken).ConfigureAwait(false) is > 0 and var indexed)
        {
            logger.LogInformation("Index rows written for {Instances} instances created before the indexes; the console now reads them instead of scanning.", indexed);
        }

        var summary = new RetentionSummary(purged, deleted, kept, events);
        logger.LogInformation("Retention: {Hours} usage hours ({Entities} rows and markers) deleted, {Kept} kept with unsent rows, {Events} event-log lines deleted.", purged, deleted, kept, events);
        return summary;
    }
}

/// <summary>Retention once a day, at a quiet hour (UTC).</summary>
public sealed class PurgeExpiredData(Retention retention)
{
    [Function(nameof(PurgeExpiredData))]
    public Task Run([TimerTrigger("0 17 3 * * *")] TimerInfo timer, CancellationToken cancellationToken) => retention.RunAsync(cancellationToken);
}
