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
/// table, never by scanning.
/// </summary>
public sealed class Retention(UsageStore usage, LifecycleSweeper sweeper, IOptionsMonitor<MeteringOptions> options, TimeProvider time, ILogger<Retention> logger)
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
