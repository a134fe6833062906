using KooGallery.Protocol;

namespace KooGallery.Functions.Instances;

/// <summary>Where a SaaS instance is in its life cycle (§1.3).</summary>
public enum InstanceState
{
    /// <summary>newInstance accepted; the tenant is being created. queryInstance answers 000004.</summary>
    Provisioning,

    /// <summary>The tenant exists and serves; queryInstance answers its appInfo.</summary>
    Ready,

    /// <summary>Frozen by KooGallery (expiry, arrears, violation): the tenant is suspended, data kept.</summary>
    Frozen,

    /// <summary>releaseInstance accepted; the tenant is being deleted.</summary>
    Releasing,

    /// <summary>The tenant is gone. Repeated releases succeed.</summary>
    Released,

    /// <summary>A worker met a permanent error, or transient ones for longer than Lifecycle__GiveUpAfter; an operator re-drives it.</summary>
    Failed,
}

/// <summary>What can happen to an instance: KooGallery callbacks, worker outcomes and operator actions.</summary>
public enum InstanceCommand
{
    Freeze,
    Unfreeze,
    Refresh,
    Upgrade,
    Release,
    ProvisioningSucceeded,
    ReleaseSucceeded,
    WorkGaveUp,
    Redrive,
    ReviveForTest,
}

public enum DecisionKind
{
    /// <summary>Do it: record the change (the next state may equal the current one, e.g. a renewal).</summary>
    Apply,

    /// <summary>Already so: answer success, change nothing.</summary>
    AlreadyDone,

    /// <summary>Makes no sense in this state, now or ever: answer the given code.</summary>
    Reject,
}

/// <summary>The outcome of a command in a state.</summary>
public sealed record Decision(DecisionKind Kind, InstanceState Next, ResultCode Code, string Message)
{
    public bool Changes => Kind == DecisionKind.Apply;
}

/// <summary>
/// Every transition of an instance in one table, so the answer to "what happens if KooGallery sends X
/// while the instance is Y" is written down once and unit-tested cell by cell. The same table decides at
/// the callback (record the change and answer 000000, or refuse it) and in the worker (apply the recorded
/// change to the state it finds then). A change KooGallery sends is never answered "later": KooGallery
/// does not retry changes (§2.5), so anything that can be honoured is recorded as desired state —
/// a freeze during provisioning leaves the tenant frozen when it is created, a renewal of a failed
/// instance is applied when an operator re-drives it — and only what can never be honoured is refused.
/// </summary>
public static class InstanceStateMachine
{
    public static Decision Decide(InstanceState state, InstanceCommand command, InstanceState? redriveTo = null) => (command, state) switch
    {
        (InstanceCommand.Freeze, InstanceState.Ready) => Apply(InstanceState.Frozen),
        (InstanceCommand.Freeze, InstanceState.Frozen) => Done(state, "already frozen."),
        (InstanceCommand.Freeze, InstanceState.Releasing or InstanceState.Released) => Done(state, "released: nothing is served."),
        (InstanceCommand.Freeze, InstanceState.Provisioning or InstanceState.Failed) => Apply(state),

        (InstanceCommand.Unfreeze, InstanceState.Frozen) => Apply(InstanceState.Ready),
        (InstanceCommand.Unfreeze, InstanceState.Ready) => Done(state, "not frozen."),
        (InstanceCommand.Unfreeze, InstanceState.Releasing or InstanceState.Released) => Reject(state, ResultCode.InvalidParameter, "the instance is released and cannot be unfrozen."),
        (InstanceCommand.Unfreeze, InstanceState.Provisioning or InstanceState.Failed) => Apply(state),

        (InstanceCommand.Refresh or InstanceCommand.Upgrade, InstanceState.Provisioning or InstanceState.Ready or InstanceState.Frozen or InstanceState.Failed) => Apply(state),
        (InstanceCommand.Refresh, InstanceState.Releasing or InstanceState.Released) => Reject(state, ResultCode.InvalidParameter, "the instance is released and cannot be renewed."),
        (InstanceCommand.Upgrade, InstanceState.Releasing or InstanceState.Released) => Reject(state, ResultCode.InvalidParameter, "the instance is released and cannot be upgraded."),

        (InstanceCommand.Release, InstanceState.Provisioning or InstanceState.Ready or InstanceState.Frozen or InstanceState.Failed) => Apply(InstanceState.Releasing),
        (InstanceCommand.Release, InstanceState.Releasing or InstanceState.Released) => Done(state, "already released."),

        (InstanceCommand.ProvisioningSucceeded, InstanceState.Provisioning) => Apply(InstanceState.Ready),
        (InstanceCommand.ProvisioningSucceeded, _) => Done(state, $"no longer provisioning ({state})."),

        (InstanceCommand.ReleaseSucceeded, InstanceState.Releasing) => Apply(InstanceState.Released),
        (InstanceCommand.ReleaseSucceeded, _) => Done(state, $"not releasing ({state})."),

        (InstanceCommand.WorkGaveUp, InstanceState.Released) => Done(state, "released: nothing left to fail."),
        (InstanceCommand.WorkGaveUp, InstanceState.Failed) => Done(state, "already failed."),
        (InstanceCommand.WorkGaveUp, _) => Apply(InstanceState.Failed),

        (InstanceCommand.Redrive, InstanceState.Failed) => Apply(redriveTo ?? InstanceState.Provisioning),
        (InstanceCommand.Redrive, _) => Reject(state, ResultCode.InvalidParameter, $"only failed instances can be re-driven (this one is {state})."),

        (InstanceCommand.ReviveForTest, InstanceState.Released) => Apply(InstanceState.Provisioning),
        (InstanceCommand.ReviveForTest, _) => Done(state, "not released."),

        _ => throw new ArgumentOutOfRangeException(nameof(command), $"No transition for {command} in {state}."),
    };

    /// <summary>
    /// The callback's question for a change: record it (<see cref="DecisionKind.Apply"/>), answer that it is
    /// already so, or refuse it. A failed instance is judged by the state it failed in, so an unfreeze of an
    /// instance whose release gave up is refused like one of a released instance.
    /// </summary>
    public static Decision Accept(InstanceEntity instance, InstanceCommand command) =>
        instance.IsReleased && instance.CurrentState == InstanceState.Failed
            ? Decide(InstanceState.Releasing, command)
            : Decide(instance.CurrentState, command);

    private static Decision Apply(InstanceState next) => new(DecisionKind.Apply, next, ResultCode.Success, "success.");

    private static Decision Done(InstanceState state, string why) => new(DecisionKind.AlreadyDone, state, ResultCode.Success, "success (" + why + ")");

    private static Decision Reject(InstanceState state, ResultCode code, string why) => new(DecisionKind.Reject, state, code, why);
}
