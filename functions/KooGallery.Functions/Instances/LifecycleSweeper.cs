using KooGallery.Functions.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>What one sweep did, and what it cost.</summary>
public sealed record SweepSummary(int EntriesDue, int Instances, int Requeued, int Rescheduled, int EntitiesRead);

/// <summary>
/// The outbox's recovery. Every time work or a change is recorded, an index entry asks to look at the instance
/// once <see cref="LifecycleOptions.RequeueAfter"/> has passed; the sweeper reads the entries that are due —
/// never the instance table — and for each instance queues again what still waits (the queue put failed, a
/// message was lost, a scheduled retry never came), looks again later at what is legitimately waiting (a
/// retry not due yet), and forgets instances with nothing to do. Failed instances wait for an operator.
/// A sweep costs what has happened recently, not how many instances exist.
/// </summary>
public sealed class LifecycleSweeper(
    InstanceRepository instances,
    InstanceLifecycle lifecycle,
    LifecycleWorkSender work,
    ScheduleStore schedule,
    IOptionsMonitor<LifecycleOptions> options,
    TimeProvider time,
    ILogger<LifecycleSweeper> logger)
{
    /// <summary>Entries handled per run; the rest wait for the next run two minutes later.</summary>
    public const int MaxEntriesPerRun = 2000;

    public async Task<SweepSummary> SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var settings = options.CurrentValue;
        var due = await schedule.DueAsync(ScheduleStore.Lifecycle, now, MaxEntriesPerRun, cancellationToken).ConfigureAwait(false);
        var requeued = 0;
        var rescheduled = 0;
        var entitiesRead = due.Count;
        await Parallel.ForEachAsync(
            due.GroupBy(e => e.Subject, StringComparer.Ordinal),
            new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = cancellationToken },
            async (entries, ct) =>
            {
                var (action, read) = await CheckAsync(entries.Key, now, settings, ct).ConfigureAwait(false);
                Interlocked.Add(ref entitiesRead, read);
                if (action == SweepAction.Requeued)
                {
                    Interlocked.Increment(ref requeued);
                }
                else if (action == SweepAction.Rescheduled)
                {
                    Interlocked.Increment(ref rescheduled);
                }

                await schedule.RemoveAsync(entries, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);

        var summary = new SweepSummary(due.Count, due.Select(e => e.Subject).Distinct(StringComparer.Ordinal).Count(), requeued, rescheduled, entitiesRead);
        if (requeued > 0)
        {
            logger.LogWarning("Sweeper queued the work of {Requeued} instance(s) again ({Due} index entries due, {Read} entities read).", requeued, summary.EntriesDue, summary.EntitiesRead);
        }

        return summary;
    }

    private async Task<(SweepAction Action, int EntitiesRead)> CheckAsync(string instanceId, DateTimeOffset now, LifecycleOptions settings, CancellationToken cancellationToken)
    {
        var instance = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            return (SweepAction.Forgotten, 0); // the index entry went out with an insert that failed
        }

        var changes = await instances.ChangesAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var read = 1 + changes.Count;
        var cutoff = now - settings.RequeueAfter;
        if (changes.Count > 0 && changes[0].ReceivedAt <= cutoff)
        {
            logger.LogWarning("Instance {InstanceId} has changes recorded since {Since:O} and not applied; queued again.", instanceId, changes[0].ReceivedAt);
            await lifecycle.ScheduleCheckAsync(instanceId, now, cancellationToken).ConfigureAwait(false);
            await work.EnqueueAsync(new LifecycleWork(instanceId, WorkKinds.Changes), cancellationToken).ConfigureAwait(false);
            return (SweepAction.Requeued, read);
        }

        if (instance.CurrentState != InstanceState.Failed && await lifecycle.RequeueIfStaleAsync(instance, cancellationToken).ConfigureAwait(false))
        {
            return (SweepAction.Requeued, read);
        }

        // Still waiting for good reason (a change just recorded, work just queued, a retry due later): look again then.
        DateTimeOffset? next = null;
        if (changes.Count > 0)
        {
            next = changes[0].ReceivedAt;
        }

        if (instance.CurrentState != InstanceState.Failed && instance.PendingSince is { } since)
        {
            next = next is { } n && n < since ? n : since;
        }

        if (next is { } from)
        {
            await lifecycle.ScheduleCheckAsync(instanceId, from > cutoff ? from : now, cancellationToken).ConfigureAwait(false);
            return (SweepAction.Rescheduled, read);
        }

        // Idle now: its event log is trimmed to Lifecycle__EventRetention once this activity is that old.
        await schedule.ScheduleAsync(ScheduleStore.EventPurge, now + settings.EventRetention, instanceId, cancellationToken).ConfigureAwait(false);
        return (SweepAction.Forgotten, read);
    }

    /// <summary>
    /// Retention: trims the event logs of instances whose purge entry is due (written when the sweeper saw
    /// them idle), deleting lines older than <see cref="LifecycleOptions.EventRetention"/>.
    /// </summary>
    public async Task<int> PurgeEventsAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var due = await schedule.DueAsync(ScheduleStore.EventPurge, now, MaxEntriesPerRun, cancellationToken).ConfigureAwait(false);
        var deleted = 0;
        foreach (var entries in due.GroupBy(e => e.Subject, StringComparer.Ordinal))
        {
            deleted += await instances.PurgeEventsAsync(entries.Key, now - options.CurrentValue.EventRetention, cancellationToken).ConfigureAwait(false);
            await schedule.RemoveAsync(entries, cancellationToken).ConfigureAwait(false);
        }

        if (deleted > 0)
        {
            logger.LogInformation("Event-log retention: {Deleted} lines older than {Retention} deleted from {Instances} instance(s).", deleted, options.CurrentValue.EventRetention, due.Select(e => e.Subject).Distinct(StringComparer.Ordinal).Count());
        }

        return deleted;
    }

    private enum SweepAction
    {
        Forgotten,
        Requeued,
        Rescheduled,
    }
}
