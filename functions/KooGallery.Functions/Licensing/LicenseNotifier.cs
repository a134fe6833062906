using Azure.Storage.Queues;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Licensing;

/// <summary>
/// Tells the merchant's systems of licence changes through the tenant seam (a <c>license.*</c> webhook event),
/// with the life cycle's guarantees and mechanism: the change is durable before the queue put, the message
/// only names the licence and the worker sends its current state once per version, transient failures are
/// retried on the app's own schedule (<see cref="LifecycleOptions.RetryDelay"/>, <see cref="LifecycleOptions.GiveUpAfter"/>),
/// and the schedule index brings back what a lost message left waiting.
/// </summary>
public sealed class LicenseNotifier(
    QueueServiceClient queues,
    IOptions<StorageOptions> names,
    LicenseRepository licenses,
    ScheduleStore schedule,
    TenantProvisioners provisioners,
    IOptionsMonitor<LifecycleOptions> lifecycle,
    TimeProvider time,
    ILogger<LicenseNotifier> logger)
{
    public const string ScheduleKind = "license";

    private QueueClient Queue => queues.GetQueueClient(names.Value.LicenseQueue);

    /// <summary>Asks the sweeper to look at the licence once <see cref="LifecycleOptions.RequeueAfter"/> has passed.</summary>
    public Task ScheduleCheckAsync(string license, DateTimeOffset from, CancellationToken cancellationToken) =>
        schedule.ScheduleAsync(ScheduleKind, from + lifecycle.CurrentValue.RequeueAfter, license, cancellationToken);

    /// <summary>Queues the notification of a recorded change; a failure is left to the sweeper (the change is durable).</summary>
    public async Task HandOverAsync(string license, CancellationToken cancellationToken, TimeSpan? delay = null)
    {
        try
        {
            await Queue.SendMessageAsync(System.Text.Json.JsonSerializer.Serialize(new LicenseWork(license)), delay is { } d && d > TimeSpan.Zero ? d : null, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Could not queue the notification of licence {License}; the sweeper will.", license);
        }
    }

    /// <summary>Sends the licence's current state to the tenant seam when a version is not told yet.</summary>
    public async Task ProcessAsync(string license, CancellationToken cancellationToken)
    {
        var entity = await licenses.GetAsync(license, cancellationToken).ConfigureAwait(false);
        if (entity is null || !entity.NotifyPending)
        {
            return;
        }

        var version = entity.Version;
        try
        {
            await provisioners.For(entity.IsTest).NotifyLicenseAsync(
                new LicenseNotice(entity.License, entity.LastEvent ?? "license.changed", version, entity.Status, entity.ExpireTime, entity.ExpiresAt, entity.ProductId, entity.OrderId, entity.LastScene, entity.IsTest),
                cancellationToken).ConfigureAwait(false);
        }
        catch (TenantProvisioningException ex)
        {
            await FailedAsync(license, version, ex, cancellationToken).ConfigureAwait(false);
            return;
        }

        await RecordAsync(license, l =>
        {
            l.NotifiedVersion = Math.Max(l.NotifiedVersion, version);
            l.NotifyError = null;
            l.NotifyFailures = 0;
            l.NotifyFailingSince = null;
        }, cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Merchant told of licence {License} version {Version} ({Event}).", license, version, entity.LastEvent);
    }

    /// <summary>The sweeper's part: licences whose notification waited too long are queued again.</summary>
    public async Task<int> SweepAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var due = await schedule.DueAsync(ScheduleKind, now, 2000, cancellationToken).ConfigureAwait(false);
        var requeued = 0;
        foreach (var entries in due.GroupBy(e => e.Subject, StringComparer.Ordinal))
        {
            var entity = await licenses.GetAsync(entries.Key, cancellationToken).ConfigureAwait(false);
            if (entity is { NotifyPending: true } && (entity.NotifyFailingSince is null || now - entity.NotifyFailingSince < lifecycle.CurrentValue.GiveUpAfter))
            {
                await ScheduleCheckAsync(entries.Key, now, cancellationToken).ConfigureAwait(false);
                await HandOverAsync(entries.Key, cancellationToken).ConfigureAwait(false);
                requeued++;
            }

            await schedule.RemoveAsync(entries, cancellationToken).ConfigureAwait(false);
        }

        return requeued;
    }

    private async Task FailedAsync(string license, int version, TenantProvisioningException ex, CancellationToken cancellationToken)
    {
        var settings = lifecycle.CurrentValue;
        var now = time.GetUtcNow();
        LicenseEntity? failed = null;
        await RecordAsync(license, l =>
        {
            l.NotifyError = ex.Message.Length > 1000 ? ex.Message[..1000] : ex.Message;
            l.NotifyFailures++;
            l.NotifyFailingSince ??= now;
            failed = l;
        }, cancellationToken).ConfigureAwait(false);

        if (!ex.IsTransient || now - failed!.NotifyFailingSince >= settings.GiveUpAfter)
        {
            // The alert rule for failed instances keys on the same words.
            logger.LogError("Licence {License} notification FAILED: version {Version} could not be told to the merchant ({Reason}). Fix the tenant API; the next change or a re-drive sends it.", license, version, ex.Message);
            return;
        }

        var delay = settings.RetryDelay(failed.NotifyFailures, Random.Shared.NextDouble());
        logger.LogWarning("Licence {License}: telling the merchant failed {Failures} time(s) ({Reason}); retrying in {Delay}.", license, failed.NotifyFailures, ex.Message, delay);
        await ScheduleCheckAsync(license, now + delay, cancellationToken).ConfigureAwait(false);
        await HandOverAsync(license, cancellationToken, delay).ConfigureAwait(false);
    }

    private async Task RecordAsync(string license, Action<LicenseEntity> change, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var entity = await licenses.GetAsync(license, cancellationToken).ConfigureAwait(false);
            if (entity is null)
            {
                return;
            }

            change(entity);
            if (await licenses.SaveAsync(entity, false, [], null, time.GetUtcNow(), cancellationToken).ConfigureAwait(false) == CommitOutcome.Committed)
            {
                return;
            }
        }
    }
}

/// <summary>A licence-queue message: "licence X may have a change to tell". It carries no state on purpose.</summary>
public sealed record LicenseWork(string License)
{
    /// <summary>Reads a message of the licence queue; null when it is not one.</summary>
    public static LicenseWork? FromQueueBody(BinaryData body)
    {
        try
        {
            var work = System.Text.Json.JsonSerializer.Deserialize<LicenseWork>(QueueMessageBody.JsonText(body), System.Text.Json.JsonSerializerOptions.Web);
            return string.IsNullOrEmpty(work?.License) ? null : work;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
