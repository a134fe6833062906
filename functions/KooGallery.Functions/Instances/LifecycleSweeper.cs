using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>
/// The outbox's recovery: instances whose pending work has waited longer than RequeueAfter (the queue put
/// failed, or a message was lost) get it queued again, and so do recorded changes nobody applied. Failed
/// instances are left for an operator; instances in back-off are left until their retry is overdue.
/// </summary>
public sealed class LifecycleSweeper(InstanceRepository instances, InstanceLifecycle lifecycle, LifecycleWorkSender work, IOptionsMonitor<LifecycleOptions> options, TimeProvider time, ILogger<LifecycleSweeper> logger)
{
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow() - options.CurrentValue.RequeueAfter;
        var unapplied = await instances.FindStaleChangesAsync(cutoff, cancellationToken).ConfigureAwait(false);
        foreach (var instanceId in unapplied)
        {
            logger.LogWarning("Instance {InstanceId} has changes recorded before {Cutoff:O} and not applied; queued again.", instanceId, cutoff);
            await work.EnqueueAsync(new LifecycleWork(instanceId, WorkKinds.Changes), cancellationToken).ConfigureAwait(false);
        }

        var stale = await instances.FindStalePendingAsync(cutoff, cancellationToken).ConfigureAwait(false);
        var requeued = unapplied.Count;
        foreach (var instance in stale)
        {
            if (await lifecycle.RequeueIfStaleAsync(instance, cancellationToken).ConfigureAwait(false))
            {
                requeued++;
            }
        }

        if (stale.Count > 0)
        {
            logger.LogWarning("Sweeper found {Stale} instance(s) with stale pending work and queued {Requeued} again.", stale.Count, requeued);
        }

        return requeued;
    }
}
