using System.Text.Json;
using Azure.Storage.Queues;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Storage;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.JointOperation;

/// <summary>A queued kit notice with its retry bookkeeping: the message is the outbox.</summary>
public sealed record KitNoticeWork(KitNotice Notice, int Failures, DateTimeOffset? FailingSince);

/// <summary>
/// Tells the merchant's systems of each joint-operation sync through the tenant seam, on a queue: the sync
/// answers 000000 only once its notice is queued (else 000005, and KooGallery's retry of the idempotent sync
/// queues it again); the worker sends it, and retries a transient failure on the app's own schedule
/// (<see cref="LifecycleOptions.RetryDelay"/>, until <see cref="LifecycleOptions.GiveUpAfter"/>).
/// </summary>
public sealed class KitNotifier(
    QueueServiceClient queues,
    IOptions<StorageOptions> names,
    TenantProvisioners provisioners,
    IOptionsMonitor<LifecycleOptions> lifecycle,
    TimeProvider time,
    ILogger<KitNotifier> logger)
{
    private QueueClient Queue => queues.GetQueueClient(names.Value.KitQueue);

    public Task QueueAsync(IEnumerable<KitNotice> notices, CancellationToken cancellationToken) =>
        Task.WhenAll(notices.Select(n => PutAsync(new KitNoticeWork(n, 0, null), null, cancellationToken)));

    public async Task ProcessAsync(KitNoticeWork work, CancellationToken cancellationToken)
    {
        try
        {
            await provisioners.For(work.Notice.IsTest).NotifyKitAsync(work.Notice, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Merchant told of {Event} for {Subject}.", work.Notice.Event, work.Notice.Subject);
        }
        catch (TenantProvisioningException ex)
        {
            var settings = lifecycle.CurrentValue;
            var now = time.GetUtcNow();
            var since = work.FailingSince ?? now;
            if (!ex.IsTransient || now - since >= settings.GiveUpAfter)
            {
                logger.LogError("Joint-operation notice {Event} for {Subject} FAILED and is dropped: {Reason}. KooGallery's next sync of it sends it again.", work.Notice.Event, work.Notice.Subject, ex.Message);
                return;
            }

            var delay = settings.RetryDelay(work.Failures + 1, Random.Shared.NextDouble());
            logger.LogWarning("Joint-operation notice {Event} for {Subject} failed ({Reason}); retrying in {Delay}.", work.Notice.Event, work.Notice.Subject, ex.Message, delay);
            await PutAsync(work with { Failures = work.Failures + 1, FailingSince = since }, delay, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task PutAsync(KitNoticeWork work, TimeSpan? delay, CancellationToken cancellationToken) =>
        await Queue.SendMessageAsync(JsonSerializer.Serialize(work, JsonSerializerOptions.Web), delay, cancellationToken: cancellationToken).ConfigureAwait(false);
}

/// <summary>The queue side of joint-operation syncs.</summary>
public sealed class NotifyKitSync(KitNotifier notifier, ILogger<NotifyKitSync> logger)
{
    [Function(nameof(NotifyKitSync))]
    public async Task Run([QueueTrigger("%" + StorageOptions.KitQueueSetting + "%")] Azure.Storage.Queues.Models.QueueMessage message, CancellationToken cancellationToken)
    {
        KitNoticeWork? work;
        try
        {
            work = JsonSerializer.Deserialize<KitNoticeWork>(QueueMessageBody.JsonText(message.Body), JsonSerializerOptions.Web);
        }
        catch (JsonException)
        {
            work = null;
        }

        if (work?.Notice is null)
        {
            logger.LogError("Unreadable joint-operation notice {MessageId} dropped.", message.MessageId);
            return;
        }

        await notifier.ProcessAsync(work, cancellationToken).ConfigureAwait(false);
    }
}
