using Azure;
using KooGallery.Functions.Marketplace;
using KooGallery.Functions.Provisioning;
using Microsoft.Extensions.Logging;

namespace KooGallery.Functions.Instances;

/// <summary>
/// Does an instance's pending work against KooGallery (query order) and the tenant seam, then records the
/// outcome. Each kind reconciles the tenant with the instance's current state, so running a message twice,
/// or two messages out of order, ends in the same place. Transient failures are rethrown for the queue to
/// retry (and eventually poison); permanent ones mark the instance failed at once.
/// </summary>
public sealed class LifecycleWorker(
    InstanceRepository instances,
    KooGalleryOpenApi koogallery,
    TenantProvisioners provisioners,
    LifecycleWorkSender work,
    TimeProvider time,
    ILogger<LifecycleWorker> logger)
{
    private const int MaxConflictRetries = 5;

    public async Task ProcessAsync(LifecycleWork message, long dequeueCount, CancellationToken cancellationToken)
    {
        var instance = await instances.GetAsync(message.InstanceId, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            logger.LogWarning("Work {Work} for unknown instance {InstanceId}: nothing to do.", message.Work, message.InstanceId);
            return;
        }

        if (!instance.Pending.Contains(message.Work) || instance.CurrentState == InstanceState.Failed)
        {
            logger.LogInformation("Work {Work} for instance {InstanceId} ({State}) is not pending: already done, or waiting for an operator.", message.Work, message.InstanceId, instance.State);
            return;
        }

        try
        {
            var done = message.Work switch
            {
                WorkKinds.Provision => await ProvisionAsync(instance, cancellationToken).ConfigureAwait(false),
                WorkKinds.Release => await ReleaseAsync(instance, cancellationToken).ConfigureAwait(false),
                WorkKinds.Status => await StatusAsync(instance, cancellationToken).ConfigureAwait(false),
                WorkKinds.Expiry => await ExpiryAsync(instance, cancellationToken).ConfigureAwait(false),
                WorkKinds.Upgrade => await UpgradeAsync(instance, cancellationToken).ConfigureAwait(false),
                _ => throw new ArgumentOutOfRangeException(nameof(message), message.Work, "unknown work kind"),
            };
            logger.LogInformation("Work {Work} for instance {InstanceId} (order {OrderId}, attempt {Attempt}): {Outcome}.", message.Work, instance.InstanceId, instance.OrderId, dequeueCount, done);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var transient = IsTransient(ex);
            var reason = $"{message.Work} failed on attempt {dequeueCount}: {ex.GetType().Name}: {ex.Message}";
            logger.LogWarning(ex, "Work {Work} for instance {InstanceId} (order {OrderId}) failed on attempt {Attempt} ({Kind}).", message.Work, instance.InstanceId, instance.OrderId, dequeueCount, transient ? "transient, will retry" : "permanent");
            if (!transient)
            {
                await GiveUpAsync(message, reason, cancellationToken).ConfigureAwait(false);
                return;
            }

            await RecordFailureAsync(message, reason, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The queue gave up (poison) or the error is permanent: the instance becomes Failed, with the reason.</summary>
    public async Task GiveUpAsync(LifecycleWork message, string reason, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxConflictRetries; attempt++)
        {
            var instance = await instances.GetAsync(message.InstanceId, cancellationToken).ConfigureAwait(false);
            if (instance is null)
            {
                return;
            }

            var from = instance.CurrentState;
            var decision = InstanceStateMachine.Decide(from, InstanceCommand.WorkGaveUp);
            if (!decision.Changes)
            {
                return;
            }

            instance.StateBeforeFailure = from.ToString();
            instance.FailedWork = message.Work;
            instance.FailureReason = reason;
            instance.LastError = reason;
            instance.State = decision.Next.ToString();
            var outcome = await instances.CommitAsync(instance, [instances.Event("gave-up", orderId: instance.OrderId, from: from, to: decision.Next, detail: reason)], null, cancellationToken).ConfigureAwait(false);
            if (outcome == CommitOutcome.Committed)
            {
                // The alert rule for failed instances keys on this line.
                logger.LogError("Instance {InstanceId} of order {OrderId} FAILED: {Work} gave up ({Reason}). Re-drive it once the cause is fixed.", instance.InstanceId, instance.OrderId, message.Work, reason);
                return;
            }
        }
    }

    private async Task<string> ProvisionAsync(InstanceEntity instance, CancellationToken cancellationToken)
    {
        if (instance.CurrentState != InstanceState.Provisioning)
        {
            await FinishAsync(instance.InstanceId, WorkKinds.Provision, null, _ => null, cancellationToken).ConfigureAwait(false);
            return $"skipped, the instance is {instance.State}";
        }

        var order = await koogallery.QueryOrderAsync(instance.OrderId, instance.OrderLineId, cancellationToken).ConfigureAwait(false);
        var line = order.Line(instance.OrderLineId) ?? (order.OrderLines.Count > 0 ? order.OrderLines[0] : null);
        var product = line?.ProductInfo.Count > 0 ? line.ProductInfo[0] : null;
        var app = await provisioners.For(instance.IsTest)
            .ProvisionAsync(new ProvisionTenant(instance.InstanceId, instance.OrderId, instance.OrderLineId, instance.IsTest, order), cancellationToken)
            .ConfigureAwait(false);

        await FinishAsync(instance.InstanceId, WorkKinds.Provision, "provisioned", fresh =>
        {
            fresh.FrontEndUrl = app.FrontEndUrl;
            fresh.AdminUrl = app.AdminUrl;
            fresh.UserName = app.UserName;
            fresh.Password = app.Password;
            fresh.Memo = app.Memo;
            fresh.CustomerId = order.CustomerId ?? fresh.CustomerId;
            fresh.ChargingMode = line?.ChargingMode ?? fresh.ChargingMode;
            fresh.ProductId ??= product?.ProductId;
            fresh.SkuCode ??= product?.SkuCode;
            fresh.LinearValue ??= product?.LinearValue is { } v ? (double)v : null;
            if (fresh.ExpireTime is null && line?.ExpireTime is not null)
            {
                fresh.ExpireTime = line.ExpireTime;
                fresh.ExpiresAt = line.ExpiresAt;
            }

            var decision = InstanceStateMachine.Decide(fresh.CurrentState, InstanceCommand.ProvisioningSucceeded);
            if (decision.Changes)
            {
                fresh.State = decision.Next.ToString();
                fresh.ReadyAt = time.GetUtcNow();
                return decision.Next;
            }

            // Released while the tenant was being created: make sure the tenant we just created goes too.
            if (fresh.CurrentState == InstanceState.Released)
            {
                fresh.State = nameof(InstanceState.Releasing);
            }

            if (fresh.CurrentState == InstanceState.Releasing)
            {
                fresh.AddPending(WorkKinds.Release, time.GetUtcNow());
                return InstanceState.Releasing;
            }

            return null;
        }, cancellationToken).ConfigureAwait(false);
        return "provisioned";
    }

    private async Task<string> ReleaseAsync(InstanceEntity instance, CancellationToken cancellationToken)
    {
        if (instance.CurrentState != InstanceState.Releasing)
        {
            await FinishAsync(instance.InstanceId, WorkKinds.Release, null, _ => null, cancellationToken).ConfigureAwait(false);
            return $"skipped, the instance is {instance.State}";
        }

        await provisioners.For(instance.IsTest)
            .ReleaseAsync(new ReleaseTenant(instance.InstanceId, instance.ReleaseOrderId, $"gen{instance.Generation}", instance.IsTest), cancellationToken)
            .ConfigureAwait(false);
        await FinishAsync(instance.InstanceId, WorkKinds.Release, "released", fresh =>
        {
            var decision = InstanceStateMachine.Decide(fresh.CurrentState, InstanceCommand.ReleaseSucceeded);
            if (!decision.Changes)
            {
                return null;
            }

            fresh.State = decision.Next.ToString();
            fresh.ReleasedAt = time.GetUtcNow();
            fresh.PendingWork = string.Empty; // expiry/status/upgrade work is moot once the tenant is gone
            fresh.PendingSince = null;
            return decision.Next;
        }, cancellationToken).ConfigureAwait(false);
        return "released";
    }

    private async Task<string> StatusAsync(InstanceEntity instance, CancellationToken cancellationToken)
    {
        var operation = $"status-v{instance.StatusVersion}";
        var provisioner = provisioners.For(instance.IsTest);
        switch (instance.CurrentState)
        {
            case InstanceState.Frozen:
                await provisioner.SuspendAsync(new SuspendTenant(instance.InstanceId, operation, instance.IsTest), cancellationToken).ConfigureAwait(false);
                break;
            case InstanceState.Ready:
                await provisioner.ResumeAsync(new ResumeTenant(instance.InstanceId, operation, instance.IsTest), cancellationToken).ConfigureAwait(false);
                break;
            case InstanceState.Provisioning:
                return "waiting for provisioning";
        }

        var synced = (instance.StatusVersion, instance.State);
        await FinishAsync(instance.InstanceId, WorkKinds.Status, $"tenant {(instance.CurrentState == InstanceState.Frozen ? "suspended" : "resumed")}", _ => null, cancellationToken,
            stillCurrent: fresh => (fresh.StatusVersion, fresh.State) == synced).ConfigureAwait(false);
        return $"tenant matches {instance.State}";
    }

    private async Task<string> ExpiryAsync(InstanceEntity instance, CancellationToken cancellationToken)
    {
        if (instance.CurrentState == InstanceState.Provisioning)
        {
            return "waiting for provisioning (the provision work queues it afterwards)";
        }

        if (instance.CurrentState is InstanceState.Ready or InstanceState.Frozen && instance.ExpiresAt is { } expiresAt)
        {
            await provisioners.For(instance.IsTest).UpdateExpiryAsync(
                new UpdateTenantExpiry(instance.InstanceId, instance.LastRefreshOrderId ?? instance.OrderId, instance.LastRefreshScene ?? "RENEWAL", instance.ExpireTime ?? string.Empty, expiresAt, instance.ProductId, instance.IsTest),
                cancellationToken).ConfigureAwait(false);
        }

        var synced = (instance.ExpireTime, instance.ProductId, instance.LastRefreshOrderId);
        await FinishAsync(instance.InstanceId, WorkKinds.Expiry, $"tenant expiry {instance.ExpireTime}", _ => null, cancellationToken,
            stillCurrent: fresh => (fresh.ExpireTime, fresh.ProductId, fresh.LastRefreshOrderId) == synced).ConfigureAwait(false);
        return $"expiry {instance.ExpireTime}";
    }

    private async Task<string> UpgradeAsync(InstanceEntity instance, CancellationToken cancellationToken)
    {
        if (instance.CurrentState is not (InstanceState.Ready or InstanceState.Frozen) || instance.PendingUpgradeOrderId is null)
        {
            await FinishAsync(instance.InstanceId, WorkKinds.Upgrade, null, _ => null, cancellationToken).ConfigureAwait(false);
            return $"skipped, the instance is {instance.State}";
        }

        var orderId = instance.PendingUpgradeOrderId;
        var order = await koogallery.QueryOrderAsync(orderId, instance.PendingUpgradeOrderLineId, cancellationToken).ConfigureAwait(false);
        var line = order.Line(instance.PendingUpgradeOrderLineId) ?? (order.OrderLines.Count > 0 ? order.OrderLines[0] : null);
        var product = line?.ProductInfo.Count > 0 ? line.ProductInfo[0] : null;
        await provisioners.For(instance.IsTest)
            .UpgradeAsync(new UpgradeTenant(instance.InstanceId, orderId, instance.PendingUpgradeOrderLineId ?? line?.OrderLineId ?? string.Empty, instance.IsTest, order), cancellationToken)
            .ConfigureAwait(false);
        await FinishAsync(instance.InstanceId, WorkKinds.Upgrade, $"upgraded by order {orderId} to {product?.ProductId}/{product?.SkuCode} x{product?.LinearValue}", fresh =>
        {
            fresh.ProductId = product?.ProductId ?? fresh.ProductId;
            fresh.SkuCode = product?.SkuCode ?? fresh.SkuCode;
            fresh.LinearValue = product?.LinearValue is { } v ? (double)v : fresh.LinearValue;
            return null;
        }, cancellationToken, stillCurrent: fresh => fresh.PendingUpgradeOrderId == orderId).ConfigureAwait(false);
        return $"upgraded by order {orderId}";
    }

    /// <summary>
    /// Records finished work on a fresh read of the instance: applies <paramref name="change"/> (which may
    /// move the state), drops the work from <c>PendingWork</c> unless the instance changed in a way this run
    /// did not cover (<paramref name="stillCurrent"/>: a newer callback queued its own run), appends the
    /// event, and queues whatever else is pending.
    /// </summary>
    private async Task FinishAsync(
        string instanceId,
        string kind,
        string? detail,
        Func<InstanceEntity, InstanceState?> change,
        CancellationToken cancellationToken,
        Func<InstanceEntity, bool>? stillCurrent = null)
    {
        for (var attempt = 0; attempt < MaxConflictRetries; attempt++)
        {
            var fresh = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (fresh is null)
            {
                return;
            }

            var from = fresh.CurrentState;
            var to = change(fresh);
            if (stillCurrent?.Invoke(fresh) ?? true)
            {
                fresh.RemovePending(kind);
            }

            fresh.WorkerAttempts = 0;
            fresh.LastError = null;
            var events = detail is null ? [] : new[] { instances.Event("worker-succeeded", orderId: fresh.OrderId, from: from, to: to ?? from, detail: $"{kind}: {detail}") };
            var outcome = await instances.CommitAsync(fresh, events, null, cancellationToken).ConfigureAwait(false);
            if (outcome == CommitOutcome.Committed)
            {
                foreach (var next in fresh.Pending)
                {
                    await work.EnqueueAsync(new LifecycleWork(instanceId, next), cancellationToken).ConfigureAwait(false);
                }

                return;
            }
        }

        throw new InvalidOperationException($"Instance {instanceId} kept changing while recording finished {kind} work.");
    }

    private async Task RecordFailureAsync(LifecycleWork message, string reason, CancellationToken cancellationToken)
    {
        try
        {
            var instance = await instances.GetAsync(message.InstanceId, cancellationToken).ConfigureAwait(false);
            if (instance is null)
            {
                return;
            }

            instance.WorkerAttempts++;
            instance.LastError = reason;
            await instances.CommitAsync(instance, [instances.Event("worker-failed", orderId: instance.OrderId, detail: reason)], null, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            // Only bookkeeping: the queue retry and the logs still carry the failure.
            logger.LogWarning(ex, "Could not record the failure of {Work} on instance {InstanceId}.", message.Work, message.InstanceId);
        }
    }

    private static bool IsTransient(Exception ex) => ex switch
    {
        MarketplaceException m => m.IsTransient,
        TenantProvisioningException t => t.IsTransient,
        RequestFailedException or HttpRequestException or TimeoutException or OperationCanceledException or InvalidOperationException or AggregateException => true,
        _ => false,
    };
}
