using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>
/// The outbox's recovery: instances whose pending work has waited longer than RequeueAfter (the queue put
/// failed, or a message was lost) get it queued again. Failed instances are left for an operator.
/// </summary>
public sealed class LifecycleSweeper(InstanceRepository instances, InstanceLifecycle lifecycle, IOptionsMonitor<LifecycleOptions> options, TimeProvider time, ILogger<LifecycleSweeper> logger)
{
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var stale = await instances.FindStalePendingAsync(time.GetUtcNow() - options.CurrentValue.RequeueAfter, cancellationToken).ConfigureAwait(false);
        var requeued = 0;
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
