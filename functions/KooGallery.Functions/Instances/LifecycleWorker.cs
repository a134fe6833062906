using Azure;
using Microsoft.Extensions.Options;
using KooGallery.Functions.Marketplace;
using KooGallery.Functions.Provisioning;
using Microsoft.Extensions.Logging;

namespace KooGallery.Functions.Instances;

/// <summary>
/// Brings an instance to the state KooGallery asked for: applies its recorded changes in order, then does
/// its pending work against KooGallery (query order) and the tenant seam, each kind reconciling the tenant
/// with the instance's current state — so running a message twice, or two messages out of order, ends in
/// the same place. A transient failure is retried on the app's own schedule (exponential back-off with
/// jitter, the next attempt recorded on the instance and the message put again with a visibility delay)
/// until <see cref="LifecycleOptions.GiveUpAfter"/>; only that, or a permanent failure, makes it Failed.
/// </summary>
public sealed class LifecycleWorker(
    InstanceRepository instances,
    KooGalleryOpenApi koogallery,
    TenantProvisioners provisioners,
    LifecycleWorkSender work,
    Storage.ScheduleStore schedule,
    Security.CredentialProtector credentials,
    IOptionsMonitor<LifecycleOptions> options,
    TimeProvider time,
    ILogger<LifecycleWorker> logger)
{
    private const int MaxConflictRetries = 5;

    /// <summary>Kinds of work one message may do before it yields (each kind runs at most once per message).</summary>
    private const int MaxKindsPerMessage = 8;

    /// <summary>How long a message that may have overtaken its callback's write waits before its second look.</summary>
    private static readonly TimeSpan AheadRecheck = TimeSpan.FromSeconds(2);

    public async Task ProcessAsync(LifecycleWork message, long dequeueCount, CancellationToken cancellationToken)
    {
        var instance = await ApplyChangesAsync(message.InstanceId, cancellationToken).ConfigureAwait(false);
        if (message.Ahead && (instance is null || (instance.CurrentState != InstanceState.Failed && instance.Pending.Count == 0)))
        {
            // Sent beside the callback's write, it may have overtaken it: once more, a moment later. (A message for a
            // write that failed, or a repeat that changed nothing, ends on that second look; the sweeper stands behind.)
            logger.LogInformation("Work {Work} for instance {InstanceId} found nothing yet; looking again in {DelayMs} ms in case the callback's write was still on its way.", message.Work, message.InstanceId, AheadRecheck.TotalMilliseconds);
            await work.PutBackAsync(message with { Ahead = false }, AheadRecheck, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (instance is null)
        {
            logger.LogWarning("Work {Work} for unknown instance {InstanceId}: nothing to do.", message.Work, message.InstanceId);
            return;
        }

        if (instance.CurrentState == InstanceState.Failed || instance.Pending.Count == 0)
        {
            logger.LogInformation("Work {Work} for instance {InstanceId} ({State}): nothing pending to do now (done already, or waiting for an operator).", message.Work, message.InstanceId, instance.State);
            return;
        }

        var now = time.GetUtcNow();
        if (instance.NextAttemptAt is { } due && due > now)
        {
            if (message.Retry != instance.WorkerAttempts)
            {
                // The scheduled retry message does this work when it is due; hammering a service that is down helps nobody.
                logger.LogInformation("Instance {InstanceId} is backing off until {Due:O} after {Failures} failure(s); {Work} waits for the scheduled retry.", instance.InstanceId, due, instance.WorkerAttempts, message.Work);
                return;
            }

            if (due - now > TimeSpan.FromSeconds(1))
            {
                // The scheduled message came early (the queue's clock is not ours): put it back for the rest of the wait.
                await work.EnqueueAsync(message, due - now, cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        var attempted = new HashSet<string>(StringComparer.Ordinal);
        for (var round = 0; round < MaxKindsPerMessage && instance is not null; round++)
        {
            var kind = WorkKinds.InOrder.FirstOrDefault(k => instance.Pending.Contains(k) && !attempted.Contains(k));
            if (kind is null || instance.CurrentState == InstanceState.Failed)
            {
                return;
            }

            attempted.Add(kind);
            try
            {
                var done = await DoAsync(kind, instance, cancellationToken).ConfigureAwait(false);
                logger.LogInformation("Work {Work} for instance {InstanceId} (order {OrderId}, delivery {Delivery}): {Outcome}.", kind, instance.InstanceId, instance.OrderId, dequeueCount, done);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                var transient = IsTransient(ex);
                var reason = $"{kind} failed: {ex.GetType().Name}: {ex.Message}";
                logger.LogWarning(ex, "Work {Work} for instance {InstanceId} (order {OrderId}) failed ({Kind}).", kind, instance.InstanceId, instance.OrderId, transient ? "transient, will retry" : "permanent");
                if (transient)
                {
                    await ScheduleRetryAsync(instance.InstanceId, kind, reason, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await GiveUpAsync(new LifecycleWork(instance.InstanceId, kind), reason, cancellationToken).ConfigureAwait(false);
                }

                return;
            }

            instance = await instances.GetAsync(instance.InstanceId, cancellationToken).ConfigureAwait(false);
        }

        if (instance is not null && WorkKinds.InOrder.FirstOrDefault(k => instance.Pending.Contains(k) && !attempted.Contains(k)) is { } left)
        {
            await work.EnqueueAsync(new LifecycleWork(instance.InstanceId, left), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Applies the instance's recorded changes in the order received and removes them, in one transaction
    /// with the instance row (ETag) and their events; returns the instance as it is afterwards.
    /// </summary>
    public async Task<InstanceEntity?> ApplyChangesAsync(string instanceId, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxConflictRetries; attempt++)
        {
            var instance = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (instance is null)
            {
                return null;
            }

            var changes = await instances.ChangesAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (changes.Count == 0)
            {
                return instance;
            }

            // A transaction holds at most 100 operations: the row, then a delete and an event per change.
            var batch = changes.Take(45).ToList();
            var now = time.GetUtcNow();
            var events = new List<InstanceEventEntity>(batch.Count);
            foreach (var change in batch)
            {
                var (from, to, detail) = InstanceChanges.Apply(instance, change, now);
                events.Add(instances.Event("change-applied", change.Activity, change.OrderId, from, to, detail));
            }

            if (await instances.CommitChangesAsync(instance, batch, events, cancellationToken).ConfigureAwait(false) == CommitOutcome.Committed)
            {
                logger.LogInformation("Applied {Changes} recorded change(s) to instance {InstanceId} (order {OrderId}): now {State}, pending {Pending}.", batch.Count, instanceId, instance.OrderId, instance.State, instance.PendingWork);
                if (changes.Count > batch.Count)
                {
                    attempt = -1; // more to apply: a fresh round, not a conflict
                }
                else
                {
                    return instance;
                }
            }
        }

        throw new InvalidOperationException($"Instance {instanceId} kept changing while its recorded changes were applied.");
    }

    /// <summary>
    /// A transient failure of <paramref name="kind"/>: records the attempt and the next one's time on the
    /// instance and puts a message for it, invisible until then. Past <see cref="LifecycleOptions.GiveUpAfter"/>
    /// of uninterrupted failures the instance is given up instead. When the work is no longer pending (an
    /// operator or a newer change moved it on), nothing is scheduled.
    /// </summary>
    public async Task ScheduleRetryAsync(string instanceId, string kind, string reason, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        for (var attempt = 0; attempt < MaxConflictRetries; attempt++)
        {
            var instance = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (instance is null || instance.CurrentState == InstanceState.Failed || !instance.Pending.Contains(kind))
            {
                logger.LogInformation("No retry scheduled for {Work} of instance {InstanceId}: it is no longer pending ({State}).", kind, instanceId, instance?.State ?? "unknown");
                return;
            }

            var now = time.GetUtcNow();
            var since = instance.RetryingSince ?? now;
            if (now - since >= settings.GiveUpAfter)
            {
                await GiveUpAsync(new LifecycleWork(instanceId, kind), $"{reason} (failing since {since:O}, longer than Lifecycle__GiveUpAfter {settings.GiveUpAfter})", cancellationToken).ConfigureAwait(false);
                return;
            }

            instance.RetryingSince = since;
            instance.WorkerAttempts++;
            var delay = settings.RetryDelay(instance.WorkerAttempts, Random.Shared.NextDouble());
            instance.NextAttemptAt = now + delay;
            instance.PendingSince = now + delay; // the sweeper stands in for the retry message only once this is stale
            instance.LastError = reason.Length > 1000 ? reason[..1000] : reason;
            var detail = $"{reason}; failure {instance.WorkerAttempts}, next attempt at {instance.NextAttemptAt:O}";

            // The sweeper stands in for the retry message if it is lost: it looks again once the retry is overdue.
            await schedule.ScheduleAsync(Storage.ScheduleStore.Lifecycle, instance.NextAttemptAt.Value + settings.RequeueAfter, instanceId, cancellationToken).ConfigureAwait(false);
            var outcome = await instances.CommitAsync(instance, [instances.Event("worker-failed", orderId: instance.OrderId, detail: detail)], null, cancellationToken).ConfigureAwait(false);
            if (outcome == CommitOutcome.Committed)
            {
                logger.LogWarning("Instance {InstanceId} of order {OrderId}: {Work} failed {Failures} time(s) since {Since:O}; retrying at {Due:O}.", instanceId, instance.OrderId, kind, instance.WorkerAttempts, since, instance.NextAttemptAt);

                // If this put fails the exception reaches the host, which delivers the current message again;
                // the sweeper covers the rest, since PendingSince is the due time.
                await work.EnqueueAsync(new LifecycleWork(instanceId, kind, instance.WorkerAttempts), delay, cancellationToken).ConfigureAwait(false);
                return;
            }
        }

        throw new InvalidOperationException($"Instance {instanceId} kept changing while a retry of {kind} was scheduled.");
    }

    /// <summary>
    /// A message the queue gave up on (its delivery kept throwing: storage trouble, not the work itself,
    /// whose failures are handled in <see cref="ProcessAsync"/>). Acts only when the work is still what the
    /// instance is waiting for; a stale message is logged and dropped.
    /// </summary>
    public async Task HandlePoisonedAsync(LifecycleWork message, CancellationToken cancellationToken)
    {
        var instance = await instances.GetAsync(message.InstanceId, cancellationToken).ConfigureAwait(false);
        var stillPending = instance is not null && instance.CurrentState != InstanceState.Failed
            && (message.Work == WorkKinds.Changes || instance.Pending.Contains(message.Work));
        if (!stillPending)
        {
            logger.LogWarning("Poisoned {Work} message for instance {InstanceId} dropped: that work is no longer pending (state {State}).", message.Work, message.InstanceId, instance?.State ?? "unknown");
            return;
        }

        logger.LogError("The queue gave up on {Work} of instance {InstanceId} (order {OrderId}) after repeated delivery failures; scheduling a retry.", message.Work, instance!.InstanceId, instance.OrderId);
        var kind = message.Work == WorkKinds.Changes ? WorkKinds.InOrder.FirstOrDefault(instance.Pending.Contains) : message.Work;
        if (kind is null)
        {
            await work.EnqueueAsync(message, options.CurrentValue.RetryBaseDelay, cancellationToken).ConfigureAwait(false);
            return;
        }

        await ScheduleRetryAsync(instance.InstanceId, kind, $"the queue gave up on the message after repeated delivery failures; last error: {instance.LastError ?? "(none recorded)"}", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A permanent failure, or transient ones past the give-up window: the instance becomes Failed, with the reason.</summary>
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
            instance.FailureReason = reason.Length > 1000 ? reason[..1000] : reason;
            instance.LastError = instance.FailureReason;
            instance.FailedAt = time.GetUtcNow();
            instance.NextAttemptAt = null;
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

    private Task<string> DoAsync(string kind, InstanceEntity instance, CancellationToken cancellationToken) => kind switch
    {
        WorkKinds.Provision => ProvisionAsync(instance, cancellationToken),
        WorkKinds.Release => ReleaseAsync(instance, cancellationToken),
        WorkKinds.Status => StatusAsync(instance, cancellationToken),
        WorkKinds.Expiry => ExpiryAsync(instance, cancellationToken),
        WorkKinds.Upgrade => UpgradeAsync(instance, cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown work kind"),
    };

    private async Task<string> ProvisionAsync(InstanceEntity instance, CancellationToken cancellationToken)
    {
        if (instance.CurrentState != InstanceState.Provisioning)
        {
            await FinishAsync(instance.InstanceId, WorkKinds.Provision, null, _ => null, cancellationToken).ConfigureAwait(false);
            return $"skipped, the instance is {instance.State}";
        }

        // Debug calls (seller-console debugging, daily dial tests) get no business processing (§2.5):
        // their order is built from the callback, so they never depend on KooGallery's order API.
        var order = instance.IsTest
            ? DebugOrders.From(instance)
            : await koogallery.QueryOrderAsync(instance.OrderId, instance.OrderLineId, cancellationToken).ConfigureAwait(false);
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
            fresh.PasswordProtected = app.Password is null ? null : credentials.Protect(app.Password, fresh.InstanceId);
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
                fresh.ReadyAt = time.GetUtcNow();
                if (fresh.DesiredStatus == DesiredStatuses.Frozen)
                {
                    // Frozen while it was being created: the new tenant is suspended next.
                    fresh.State = nameof(InstanceState.Frozen);
                    fresh.StatusVersion++;
                    fresh.AddPending(WorkKinds.Status, time.GetUtcNow());
                    return InstanceState.Frozen;
                }

                fresh.State = decision.Next.ToString();
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
        if (instance.CurrentState == InstanceState.Provisioning)
        {
            return "waiting for provisioning (the provision work queues it afterwards)";
        }

        if (instance.CurrentState is not (InstanceState.Ready or InstanceState.Frozen) || instance.PendingUpgradeOrderId is null)
        {
            await FinishAsync(instance.InstanceId, WorkKinds.Upgrade, null, _ => null, cancellationToken).ConfigureAwait(false);
            return $"skipped, the instance is {instance.State}";
        }

        var orderId = instance.PendingUpgradeOrderId;
        var order = instance.IsTest
            ? DebugOrders.Upgrade(instance)
            : await koogallery.QueryOrderAsync(orderId, instance.PendingUpgradeOrderLineId, cancellationToken).ConfigureAwait(false);
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
    /// did not cover (<paramref name="stillCurrent"/>: a newer change queued its own run), clears the retry
    /// state and appends the event. The caller goes on with whatever else is pending.
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

            fresh.ResetRetries();
            var events = detail is null ? [] : new[] { instances.Event("worker-succeeded", orderId: fresh.OrderId, from: from, to: to ?? from, detail: $"{kind}: {detail}") };
            if (await instances.CommitAsync(fresh, events, null, cancellationToken).ConfigureAwait(false) == CommitOutcome.Committed)
            {
                return;
            }
        }

        throw new InvalidOperationException($"Instance {instanceId} kept changing while recording finished {kind} work.");
    }

    /// <summary>Worth trying again later: outages of KooGallery, the tenant API or storage, and write conflicts that outlasted their retries.</summary>
    private static bool IsTransient(Exception ex) => ex switch
    {
        MarketplaceException m => m.IsTransient,
        TenantProvisioningException t => t.IsTransient,
        RequestFailedException or HttpRequestException or TimeoutException or OperationCanceledException or InvalidOperationException or AggregateException => true,
        _ => false,
    };
}
