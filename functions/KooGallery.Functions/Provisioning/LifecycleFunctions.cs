using Azure.Storage.Queues.Models;
using KooGallery.Functions.Instances;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace KooGallery.Functions.Provisioning;

/// <summary>
/// The queue side of the life cycle. Failures of the work itself are retried on the app's own schedule
/// (<see cref="LifecycleWorker"/>), so a message throws only when storage fails under it; after
/// <c>maxDequeueCount</c> (host.json) such a message moves to <c>&lt;queue&gt;-poison</c>, where
/// <see cref="FailPoisonedLifecycleWork"/> turns it back into a scheduled retry if it is still wanted.
/// </summary>
public sealed class ProcessLifecycleWork(LifecycleWorker worker, ILogger<ProcessLifecycleWork> logger)
{
    [Function(nameof(ProcessLifecycleWork))]
    public async Task Run([QueueTrigger("%" + Configuration.StorageOptions.LifecycleQueueSetting + "%")] QueueMessage message, CancellationToken cancellationToken)
    {
        var work = LifecycleWork.FromQueueBody(message.Body);
        if (work is null)
        {
            // Retrying cannot make it readable; completing it keeps it from poisoning real work.
            logger.LogError("Unreadable life-cycle message {MessageId} dropped: {Body}", message.MessageId, Cut(message.Body.ToString()));
            return;
        }

        await worker.ProcessAsync(work, message.DequeueCount, cancellationToken).ConfigureAwait(false);
    }

    internal static string Cut(string value) => value.Length > 200 ? value[..200] : value;
}

/// <summary>Messages the queue gave up on: still-pending work gets a scheduled retry, a stale message is dropped.</summary>
public sealed class FailPoisonedLifecycleWork(LifecycleWorker worker, ILogger<FailPoisonedLifecycleWork> logger)
{
    [Function(nameof(FailPoisonedLifecycleWork))]
    public async Task Run([QueueTrigger("%" + Configuration.StorageOptions.LifecycleQueueSetting + "%-poison")] QueueMessage message, CancellationToken cancellationToken)
    {
        var work = LifecycleWork.FromQueueBody(message.Body);
        if (work is null)
        {
            logger.LogError("Unreadable poison message {MessageId} dropped: {Body}", message.MessageId, ProcessLifecycleWork.Cut(message.Body.ToString()));
            return;
        }

        await worker.HandlePoisonedAsync(work, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Every two minutes: pending work (and licence notifications) that waited too long is queued again.</summary>
public sealed class SweepPendingLifecycleWork(LifecycleSweeper sweeper, Licensing.LicenseNotifier licenses)
{
    [Function(nameof(SweepPendingLifecycleWork))]
    public async Task Run([TimerTrigger("0 */2 * * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        await sweeper.SweepAsync(cancellationToken).ConfigureAwait(false);
        await licenses.SweepAsync(cancellationToken).ConfigureAwait(false);
    }
}
