using System.Globalization;
using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Provisioning;
using KooGallery.Protocol;
using KooGallery.Protocol.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>
/// The instance life cycle as KooGallery's callbacks drive it (§5.1–5.7). Each method is what one
/// callback does: read, decide with <see cref="InstanceStateMachine"/>, write the change with its event and
/// pending work in one transaction, hand the work to the queue. No call leaves the merchant side here,
/// except changeInstanceCheck's bounded question to the tenant seam.
/// </summary>
public sealed class InstanceLifecycle(
    InstanceRepository instances,
    LifecycleWorkSender work,
    Storage.ScheduleStore schedule,
    TenantProvisioners provisioners,
    Security.CredentialProtector credentials,
    IOptionsMonitor<LifecycleOptions> options,
    TimeProvider time,
    ILogger<InstanceLifecycle> logger)
{
    private const int MaxConflictRetries = 5;

    /// <summary>
    /// Creates the instance (state Provisioning, pending work "provision") and answers its id at once. A
    /// repeat for the same order line answers the same id and creates nothing. Two storage round trips in sequence:
    /// the read beside the nonce insert, then the transaction (instance row, first event, kept answer) beside the
    /// queue put and the index writes; a repeat writes its index rows again and puts no message.
    /// </summary>
    public async Task<NewInstanceResponse> NewInstanceAsync(NewInstanceRequest request, CancellationToken cancellationToken)
    {
        var instanceId = InstanceKeys.InstanceId(request.OrderId, request.OrderLineId, request.ProductId);
        var now = time.GetUtcNow();
        var instance = new InstanceEntity
        {
            InstanceId = instanceId,
            OrderId = request.OrderId,
            OrderLineId = request.OrderLineId,
            OrderProductId = request.ProductId,
            BusinessId = request.BusinessId,
            IsTest = request.IsTest,
            State = nameof(InstanceState.Provisioning),
            ChargingMode = request.OrderHint?.ChargingMode,
            CustomerId = request.OrderHint?.CustomerId,
            CreatedAt = now,
            UpdatedAt = now,
        };
        instance.AddPending(WorkKinds.Provision, now);
        var created = instances.Event("callback", Activities.NewInstance, request.OrderId, null, InstanceState.Provisioning, $"created from businessId {request.BusinessId}");

        // The read runs beside the nonce insert: a repeat is known without trying the insert, and puts no message.
        var known = instances.GetAsync(instanceId, cancellationToken);

        // Nothing is written before the nonce is known to be this call's; the answer goes into the insert's transaction.
        await NonceClaim.ClaimAsync(cancellationToken).ConfigureAwait(false);
        var existing = await known.ConfigureAwait(false);
        if (existing is null)
        {
            var answer = new NewInstanceResponse(ResultCode.Success, instanceId);
            var answerRow = NonceClaim.AnswerRow(InstanceKeys.Escape(instanceId), answer);

            // The sweeper's index entry and the queue message go out with the insert, not after it: a crash between
            // them leaves at worst an entry or a message for nothing, never a new instance nobody looks at again (no
            // added latency). A message that overtakes the insert is put back once by the worker (LifecycleWork.Ahead).
            var create = instances.TryCreateAsync(instance, created, cancellationToken, answerRow);
            var queued = HandOverAsync(instance, WorkKinds.Provision, cancellationToken, ahead: true);
            if (await RecordedAsync(create, ScheduleCheckAsync(instanceId, now, cancellationToken), instanceId, request.OrderId).ConfigureAwait(false) is var scheduled && create.Result)
            {
                logger.LogInformation("Instance {InstanceId} created for order {OrderId} line {OrderLineId} (test {IsTest}); provisioning queued.", instanceId, request.OrderId, request.OrderLineId, request.IsTest);
                await FailUnlessHandedOverAsync(instance, queued, scheduled).ConfigureAwait(false);
                return answer;
            }

            // Another call for the same order line inserted it between our read and our insert.
            await queued.ConfigureAwait(false);
            existing = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Instance {instanceId} of order {request.OrderId} conflicted on insert but cannot be read.");
        }
        else
        {
            // KooGallery retries a call that failed after the insert: what that call wrote beside it is written again.
            await Task.WhenAll(instances.EnsureIndexedAsync(existing, cancellationToken), ScheduleCheckAsync(instanceId, now, cancellationToken)).ConfigureAwait(false);
        }

        if (request.IsTest && existing.IsTest && existing.CurrentState == InstanceState.Released)
        {
            await ReviveForTestAsync(existing, request, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            logger.LogInformation("newInstance repeated for order {OrderId} line {OrderLineId}: answering the existing instance {InstanceId} ({State}).", request.OrderId, request.OrderLineId, instanceId, existing.State);
            // The sweeper's index entry covers a first call that failed after its insert; stale work goes now.
            await RequeueIfStaleAsync(existing, cancellationToken).ConfigureAwait(false);
        }

        return new NewInstanceResponse(ResultCode.Success, instanceId);
    }

    /// <summary>
    /// Answers 1–100 ids. One code per answer: the worst wins — an unknown id (000003), then a provisioning
    /// that failed with no login data yet (000005, an operator is alerted), then one still provisioning
    /// (000004), else 000000. <c>info</c> always lists every id that has login data to show.
    /// </summary>
    public async Task<QueryInstanceResponse> QueryInstanceAsync(QueryInstanceRequest request, CancellationToken cancellationToken)
    {
        var found = await Task.WhenAll(request.InstanceIds.Select(id => instances.GetAsync(id, cancellationToken))).ConfigureAwait(false);
        var unknown = new List<string>();
        var failed = new List<string>();
        var notReady = new List<string>();
        var info = new List<InstanceInfo>();
        for (var i = 0; i < found.Length; i++)
        {
            var id = request.InstanceIds[i];
            var instance = found[i];
            if (instance is null)
            {
                unknown.Add(id);
                continue;
            }

            switch (instance.CurrentState)
            {
                case InstanceState.Provisioning:
                    notReady.Add(id);
                    break;
                case InstanceState.Failed when !instance.HasAppInfo:
                    failed.Add(id);
                    break;
                default:
                    info.Add(new InstanceInfo(id, instance.LoginData(credentials)));
                    break;
            }
        }

        if (unknown.Count > 0)
        {
            return new QueryInstanceResponse(ResultCode.InstanceNotFound, info, $"unknown instance id(s): {Ids(unknown)}.");
        }

        if (failed.Count > 0)
        {
            return new QueryInstanceResponse(ResultCode.InternalError, info, $"provisioning failed on the merchant side for {Ids(failed)}; an operator has been alerted.");
        }

        return notReady.Count > 0
            ? new QueryInstanceResponse(ResultCode.Processing, info, $"still being provisioned: {Ids(notReady)}.")
            : new QueryInstanceResponse(ResultCode.Success, info);
    }

    /// <summary>Renewal, trial to formal, renewal cancelled: new expiry (and product). Idempotent per instance, order and scene.</summary>
    public Task<KooGalleryResponse> RefreshInstanceAsync(RefreshInstanceRequest request, CancellationToken cancellationToken)
    {
        if (!RefreshInstanceRequest.TryParseExpireTime(request.ExpireTime, out var wallClock))
        {
            // The wire model validated it already; this only guards a request built by hand.
            return Task.FromResult(new KooGalleryResponse(ResultCode.InvalidParameter, $"expireTime must be {RefreshInstanceRequest.ExpireTimeFormat}."));
        }

        var expiresAt = new DateTimeOffset(wallClock, options.CurrentValue.ParsedExpireTimeOffset);
        return RecordChangeAsync(
            request.InstanceId,
            new InstanceChangeEntity
            {
                Command = nameof(InstanceCommand.Refresh),
                Activity = Activities.RefreshInstance,
                OrderId = request.OrderId,
                OrderLineId = request.OrderLineId,
                Scene = request.Scene,
                ExpireTime = request.ExpireTime,
                ExpiresAt = expiresAt,
                ProductId = request.ProductId,
                Detail = $"{request.Scene}: expires {request.ExpireTime} ({expiresAt:O}){(request.ProductId is null ? string.Empty : ", product " + request.ProductId)}",
            },
            marker: InstanceKeys.Marker("refresh", request.OrderId, request.Scene),
            cancellationToken);
    }

    public Task<KooGalleryResponse> UpdateInstanceStatusAsync(UpdateInstanceStatusRequest request, CancellationToken cancellationToken) =>
        RecordChangeAsync(
            request.InstanceId,
            new InstanceChangeEntity
            {
                Command = request.Status == InstanceStatusChanges.Freeze ? nameof(InstanceCommand.Freeze) : nameof(InstanceCommand.Unfreeze),
                Activity = Activities.UpdateInstanceStatus,
                Detail = request.Status,
            },
            marker: null,
            cancellationToken);

    /// <summary>Release; a repeat, or a release of a released instance, succeeds.</summary>
    public Task<KooGalleryResponse> ReleaseInstanceAsync(ReleaseInstanceRequest request, CancellationToken cancellationToken) =>
        RecordChangeAsync(
            request.InstanceId,
            new InstanceChangeEntity
            {
                Command = nameof(InstanceCommand.Release),
                Activity = Activities.ReleaseInstance,
                OrderId = request.OrderId,
                OrderLineId = request.OrderLineId,
                Detail = request.OrderId is null ? "released" : $"released by unsubscription order {request.OrderId}",
            },
            marker: null,
            cancellationToken);

    /// <summary>A paid upgrade; the same upgrade order is applied once. The new spec is read from the order by the worker.</summary>
    public Task<KooGalleryResponse> UpgradeInstanceAsync(UpgradeInstanceRequest request, CancellationToken cancellationToken) =>
        RecordChangeAsync(
            request.InstanceId,
            new InstanceChangeEntity
            {
                Command = nameof(InstanceCommand.Upgrade),
                Activity = Activities.UpgradeInstance,
                OrderId = request.OrderId,
                OrderLineId = request.OrderLineId,
                Detail = $"upgrade order {request.OrderId} line {request.OrderLineId}",
            },
            marker: InstanceKeys.Marker("upgrade", request.OrderId),
            cancellationToken);

    /// <summary>
    /// May the instance move to another product at renewal? Asks the tenant seam, bounded by
    /// <see cref="LifecycleOptions.ChangeCheckTimeout"/>; without an answer in time the configured default applies.
    /// Any refusal is answered 000002 with the reason (KooGallery only says "not 000000").
    /// </summary>
    public async Task<KooGalleryResponse> ChangeInstanceCheckAsync(ChangeInstanceCheckRequest request, CancellationToken cancellationToken)
    {
        var instance = await instances.GetAsync(request.InstanceId, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            return new KooGalleryResponse(ResultCode.InstanceNotFound, $"unknown instance id {request.InstanceId}.");
        }

        if (instance.CurrentState is InstanceState.Releasing or InstanceState.Released)
        {
            return new KooGalleryResponse(ResultCode.InvalidParameter, "the instance is released; no change is possible.");
        }

        var settings = options.CurrentValue;
        using var limit = new CancellationTokenSource(settings.ChangeCheckTimeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancellationToken);
        SpecChangeVerdict verdict;
        try
        {
            verdict = await provisioners.For(instance.IsTest || request.IsTest)
                .CheckSpecChangeAsync(new CheckTenantSpecChange(instance.InstanceId, request.ProductInfo, $"check-{time.GetUtcNow().ToUnixTimeMilliseconds()}", instance.IsTest), linked.Token)
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (ex is OperationCanceledException or TenantProvisioningException))
        {
            logger.LogWarning("changeInstanceCheck for instance {InstanceId} got no answer from the tenant seam ({Error}); answering the default: {Allow}.", instance.InstanceId, ex.GetType().Name, settings.ChangeCheckAllowOnTimeout ? "allow" : "refuse");
            verdict = settings.ChangeCheckAllowOnTimeout ? SpecChangeVerdict.Allow : new SpecChangeVerdict(false, "the change could not be checked in time.");
        }

        return verdict.Allowed
            ? new KooGalleryResponse(ResultCode.Success)
            : new KooGalleryResponse(ResultCode.InvalidParameter, "change refused: " + (verdict.Reason ?? "not supported for this instance."));
    }

    /// <summary>Operator action: a failed instance goes back to work, its failed work queued again.</summary>
    public async Task<RedriveOutcome> RedriveAsync(string instanceId, CancellationToken cancellationToken, string actor = MasterKeyOperator)
    {
        for (var attempt = 0; attempt < MaxConflictRetries; attempt++)
        {
            var instance = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (instance is null)
            {
                return new RedriveOutcome(false, null, "unknown instance.");
            }

            // Back to the state the work belongs to; a tenant that was serving comes back frozen or not as
            // KooGallery last asked, with its status work queued so the tenant matches.
            var target = instance.FailedWork switch
            {
                WorkKinds.Provision => InstanceState.Provisioning,
                WorkKinds.Release => InstanceState.Releasing,
                _ when instance.StateBeforeFailure is nameof(InstanceState.Releasing) or nameof(InstanceState.Released) => InstanceState.Releasing,
                _ when instance.StateBeforeFailure is nameof(InstanceState.Provisioning) => InstanceState.Provisioning,
                _ => instance.DesiredStatus == DesiredStatuses.Frozen ? InstanceState.Frozen : InstanceState.Ready,
            };
            var decision = InstanceStateMachine.Decide(instance.CurrentState, InstanceCommand.Redrive, target);
            if (!decision.Changes)
            {
                return new RedriveOutcome(false, instance, decision.Message);
            }

            var from = instance.CurrentState;
            var failedWork = instance.FailedWork;
            instance.State = decision.Next.ToString();
            instance.ClearFailure();
            if (failedWork is not null)
            {
                instance.AddPending(failedWork, time.GetUtcNow());
            }

            if (decision.Next is InstanceState.Ready or InstanceState.Frozen)
            {
                instance.AddPending(WorkKinds.Status, time.GetUtcNow());
            }

            instance.PendingSince = time.GetUtcNow();
            await ScheduleCheckAsync(instanceId, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
            var outcome = await instances.CommitAsync(instance, [instances.Event("redriven", orderId: instance.OrderId, from: from, to: decision.Next, detail: $"re-driving {failedWork}, by {actor}")], null, cancellationToken).ConfigureAwait(false);
            if (outcome == CommitOutcome.Committed)
            {
                logger.LogWarning("Instance {InstanceId} of order {OrderId} re-driven by {Operator}: {From} -> {To}, work {Work}.", instanceId, instance.OrderId, actor, from, decision.Next, failedWork);
                await HandOverAsync(instance, FirstPending(instance), cancellationToken).ConfigureAwait(false);
                return new RedriveOutcome(true, instance, $"re-driven to {decision.Next}.");
            }
        }

        throw new InvalidOperationException($"Instance {instanceId} kept changing while being re-driven.");
    }

    /// <summary>How the event log names an operator who used the master-key endpoints.</summary>
    public const string MasterKeyOperator = "an operator (master key)";

    /// <summary>
    /// Re-drives the Failed instances that failed in [<paramref name="after"/>, <paramref name="before"/>) and whose
    /// failure reason contains <paramref name="error"/> (case-insensitive), oldest failure first; a dry run only lists them.
    /// </summary>
    public async Task<IReadOnlyList<BulkRedriveResult>> RedriveFailedAsync(
        DateTimeOffset? after, DateTimeOffset? before, string? error, bool dryRun, string actor, CancellationToken cancellationToken)
    {
        var failed = await instances.FindFailedAsync(after, before, cancellationToken).ConfigureAwait(false);
        var selected = failed
            .Where(i => string.IsNullOrEmpty(error) || (i.FailureReason ?? string.Empty).Contains(error, StringComparison.OrdinalIgnoreCase))
            .OrderBy(i => i.FailedAt)
            .ToList();
        var results = new List<BulkRedriveResult>(selected.Count);
        foreach (var instance in selected)
        {
            if (dryRun)
            {
                results.Add(new BulkRedriveResult(instance, false, "dry run"));
                continue;
            }

            try
            {
                var outcome = await RedriveAsync(instance.InstanceId, cancellationToken, actor).ConfigureAwait(false);
                results.Add(new BulkRedriveResult(instance, outcome.Redriven, outcome.Message));
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // One instance that cannot be re-driven now (storage trouble) does not stop the others: it is reported.
                logger.LogError("Bulk re-drive by {Operator}: instance {InstanceId} of order {OrderId} could not be re-driven ({ErrorType}: {Error}); going on with the others.", actor, instance.InstanceId, instance.OrderId, ex.GetType().Name, ex.Message);
                results.Add(new BulkRedriveResult(instance, false, $"re-drive failed: {ex.GetType().Name}: {ex.Message}"));
            }
        }

        return results;
    }

    /// <summary>Puts pending work that has waited too long on the queue again (the outbox's recovery path).</summary>
    public async Task<bool> RequeueIfStaleAsync(InstanceEntity instance, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (instance.PendingSince is not { } since || now - since < options.CurrentValue.RequeueAfter || instance.CurrentState == InstanceState.Failed)
        {
            return false;
        }

        instance.PendingSince = now;
        await ScheduleCheckAsync(instance.InstanceId, now, cancellationToken).ConfigureAwait(false);
        var outcome = await instances.CommitAsync(instance, [instances.Event("requeued", orderId: instance.OrderId, detail: $"pending since {since:O}: {instance.PendingWork}")], null, cancellationToken).ConfigureAwait(false);
        if (outcome != CommitOutcome.Committed)
        {
            return false; // someone else moved it on; their change carries its own hand-over
        }

        logger.LogWarning("Instance {InstanceId} of order {OrderId} had work pending since {Since:O} ({Pending}); queued again.", instance.InstanceId, instance.OrderId, since, instance.PendingWork);

        // In back-off, the scheduled retry message was lost: this one stands in for it.
        await HandOverAsync(instance, FirstPending(instance), cancellationToken, retry: instance.NextAttemptAt is null ? null : instance.WorkerAttempts).ConfigureAwait(false);
        return true;
    }

    private async Task ReviveForTestAsync(InstanceEntity instance, NewInstanceRequest request, CancellationToken cancellationToken)
    {
        // KooGallery's debug tool and daily dial tests reuse the mock order ids; a released debug instance is
        // provisioned again under the same id so every run sees a working instance.
        var decision = InstanceStateMachine.Decide(instance.CurrentState, InstanceCommand.ReviveForTest);
        instance.State = decision.Next.ToString();
        instance.Generation++;
        instance.BusinessId = request.BusinessId;
        instance.FrontEndUrl = instance.AdminUrl = instance.UserName = instance.PasswordProtected = instance.Memo = null;
        instance.DesiredStatus = DesiredStatuses.Active;
        instance.ResetRetries();
        instance.PendingWork = string.Empty;
        instance.PendingSince = null;
        instance.ReleasedAt = null;
        instance.AddPending(WorkKinds.Provision, time.GetUtcNow());
        await ScheduleCheckAsync(instance.InstanceId, time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        var outcome = await instances.CommitAsync(instance, [instances.Event("callback", Activities.NewInstance, request.OrderId, InstanceState.Released, decision.Next, $"debug instance provisioned again (generation {instance.Generation})")], null, cancellationToken).ConfigureAwait(false);
        if (outcome == CommitOutcome.Committed)
        {
            await HandOverAsync(instance, WorkKinds.Provision, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A change KooGallery asks for: refused only when it can never be honoured (e.g. unfreezing a released
    /// instance), else — even when it looks done already — recorded durably as an insert-only change row — no read-modify-write of the instance
    /// row, so concurrent changes never conflict — and answered 000000. The worker applies recorded changes
    /// in order. Storage round trips: one read, one transaction, one queue put.
    /// </summary>
    private async Task<KooGalleryResponse> RecordChangeAsync(string instanceId, InstanceChangeEntity change, string? marker, CancellationToken cancellationToken)
    {
        var instance = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            return new KooGalleryResponse(ResultCode.InstanceNotFound, $"unknown instance id {instanceId}.");
        }

        var command = change.CurrentCommand;
        var state = instance.CurrentState;
        var partition = InstanceKeys.Escape(instanceId);

        // The read above ran beside the nonce insert; nothing is written before the nonce is known to be this call's.
        await NonceClaim.ClaimAsync(cancellationToken).ConfigureAwait(false);

        // "Already so" is judged against the applied state, which may lag changes still to apply (a freeze
        // recorded a moment ago makes an unfreeze meaningful): such a change is recorded too, in its order.
        var decision = InstanceStateMachine.Accept(instance, command);
        if (decision.Kind == DecisionKind.Reject)
        {
            logger.LogInformation("{Activity} for instance {InstanceId} (order {OrderId}) in state {State}: {Decision} {ResultCode}.", change.Activity, instanceId, change.OrderId ?? instance.OrderId, state, decision.Kind, decision.Code.Value);
            var refusal = new KooGalleryResponse(decision.Code, decision.Message);
            var refusalRow = NonceClaim.AnswerRow(partition, refusal);
            await instances.AppendAsync(instanceId, [instances.Event("callback", change.Activity, change.OrderId, state, state, $"{change.Detail}: {decision.Kind}, {decision.Message}")], cancellationToken, refusalRow).ConfigureAwait(false);
            return refusal;
        }

        change.ReceivedAt = time.GetUtcNow();
        var answer = new KooGalleryResponse(ResultCode.Success);
        var answerRow = NonceClaim.AnswerRow(partition, answer);
        var recorded = instances.Event("callback", change.Activity, change.OrderId, state, null, $"{change.Detail}: recorded, to be applied");
        var record = instances.RecordChangeAsync(instanceId, change, recorded, marker, answerRow, cancellationToken);
        var queued = HandOverAsync(instance, WorkKinds.Changes, cancellationToken, ahead: true);
        var scheduled = await RecordedAsync(record, ScheduleCheckAsync(instanceId, change.ReceivedAt, cancellationToken), instanceId, change.OrderId ?? instance.OrderId).ConfigureAwait(false);
        if (record.Result == CommitOutcome.AlreadyApplied)
        {
            // Handed over again anyway (the message above): an earlier attempt may have failed between recording and queueing.
            logger.LogInformation("{Activity} for instance {InstanceId}: order {OrderId} was recorded before; answering success.", change.Activity, instanceId, change.OrderId);
            await FailUnlessHandedOverAsync(instance, queued, scheduled).ConfigureAwait(false);
            return new KooGalleryResponse(ResultCode.Success, "success (already applied).");
        }

        logger.LogInformation("{Activity} recorded for instance {InstanceId} (order {OrderId}, state {State}): {Detail}; the worker applies it.", change.Activity, instanceId, change.OrderId ?? instance.OrderId, state, change.Detail);
        await FailUnlessHandedOverAsync(instance, queued, scheduled).ConfigureAwait(false);
        return answer;
    }

    /// <summary>
    /// Queues work recorded as pending (or recorded changes). The change is already durable, so a queue
    /// failure is logged and left to the sweeper (it re-queues pending work and changes older than
    /// RequeueAfter), not reported to KooGallery.
    /// </summary>
    /// <param name="ahead">The message is put beside the write it announces and may reach the worker first.</param>
    private async Task<bool> HandOverAsync(InstanceEntity instance, string kind, CancellationToken cancellationToken, int? retry = null, bool ahead = false)
    {
        try
        {
            await work.EnqueueAsync(new LifecycleWork(instance.InstanceId, kind, retry, ahead), cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Could not queue {Work} for instance {InstanceId} (order {OrderId}); it is recorded and the sweeper will queue it.", kind, instance.InstanceId, instance.OrderId);
            return false;
        }
    }

    /// <summary>
    /// Hands over work the callback recorded. Either the queue or the sweeper's index entry is enough for it
    /// to be done; when neither was written the callback fails (000005), and KooGallery's retry writes them again.
    /// </summary>
    private static async Task FailUnlessHandedOverAsync(InstanceEntity instance, Task<bool> queued, bool scheduled)
    {
        if (!await queued.ConfigureAwait(false) && !scheduled)
        {
            throw new InvalidOperationException($"Instance {instance.InstanceId}: neither the queue nor the schedule could be written; KooGallery will retry.");
        }
    }

    /// <summary>
    /// Waits for a write and the sweeper's index entry issued together. The write's failure propagates; the
    /// entry's failure is logged and reported as false, for the caller to make sure the queue got the work.
    /// </summary>
    private async Task<bool> RecordedAsync(Task write, Task scheduleEntry, string instanceId, string? orderId)
    {
        try
        {
            await Task.WhenAll(write, scheduleEntry).ConfigureAwait(false);
            return true;
        }
        catch (Exception) when (write.IsCompletedSuccessfully)
        {
            logger.LogWarning(scheduleEntry.Exception?.GetBaseException(), "The sweeper's index entry for instance {InstanceId} (order {OrderId}) could not be written; relying on the queue.", instanceId, orderId);
            return false;
        }
    }

    /// <summary>
    /// Tells the sweeper to look at the instance once <see cref="LifecycleOptions.RequeueAfter"/> has passed
    /// from <paramref name="from"/>: if its work or changes are still waiting then, they are queued again.
    /// </summary>
    public Task ScheduleCheckAsync(string instanceId, DateTimeOffset from, CancellationToken cancellationToken) =>
        schedule.ScheduleAsync(Storage.ScheduleStore.Lifecycle, from + options.CurrentValue.RequeueAfter, instanceId, cancellationToken);

    /// <summary>One message is enough: the worker does all of an instance's pending work, in order.</summary>
    private static string FirstPending(InstanceEntity instance) =>
        WorkKinds.InOrder.FirstOrDefault(instance.Pending.Contains) ?? WorkKinds.Changes;

    private static string Ids(List<string> ids) =>
        ids.Count <= 5 ? string.Join(", ", ids) : string.Join(", ", ids.Take(5)) + string.Create(CultureInfo.InvariantCulture, $" and {ids.Count - 5} more");
}

/// <summary>What an operator's re-drive did.</summary>
public sealed record RedriveOutcome(bool Redriven, InstanceEntity? Instance, string Message);

/// <summary>What a bulk re-drive did to one Failed instance (as it was when selected).</summary>
public sealed record BulkRedriveResult(InstanceEntity Instance, bool Redriven, string Message);
