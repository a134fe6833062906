namespace KooGallery.Functions.Instances;

/// <summary>
/// What a recorded change (<see cref="InstanceChangeEntity"/>) does to an instance when the worker applies
/// it, in the order KooGallery sent them. The state machine decides against the state found now (a release
/// may have been applied after the freeze was recorded); whatever cannot apply any more is logged, not lost.
/// </summary>
public static class InstanceChanges
{
    /// <summary>Applies one change; returns the event detail describing what it did.</summary>
    public static (InstanceState From, InstanceState To, string Detail) Apply(InstanceEntity instance, InstanceChangeEntity change, DateTimeOffset now)
    {
        var from = instance.CurrentState;
        var command = change.CurrentCommand;
        var decision = InstanceStateMachine.Accept(instance, command);
        if (!decision.Changes)
        {
            return (from, from, $"{change.Detail}: not applied ({decision.Message})");
        }

        switch (command)
        {
            case InstanceCommand.Freeze or InstanceCommand.Unfreeze:
                instance.DesiredStatus = command == InstanceCommand.Freeze ? DesiredStatuses.Frozen : DesiredStatuses.Active;
                if (from is InstanceState.Ready or InstanceState.Frozen)
                {
                    instance.State = decision.Next.ToString();
                }
                else if (from == InstanceState.Failed && instance.StateBeforeFailure is nameof(InstanceState.Ready) or nameof(InstanceState.Frozen))
                {
                    instance.StateBeforeFailure = command == InstanceCommand.Freeze ? nameof(InstanceState.Frozen) : nameof(InstanceState.Ready);
                }

                // While provisioning, the provision work applies the desired status once the tenant exists.
                if (from != InstanceState.Provisioning)
                {
                    instance.StatusVersion++;
                    instance.AddPending(WorkKinds.Status, now);
                }

                return (from, instance.CurrentState, $"{change.Detail}: desired status {instance.DesiredStatus}");

            case InstanceCommand.Refresh:
                instance.ExpireTime = change.ExpireTime;
                instance.ExpiresAt = change.ExpiresAt;
                instance.ProductId = change.ProductId ?? instance.ProductId;
                instance.LastRefreshOrderId = change.OrderId;
                instance.LastRefreshScene = change.Scene;
                instance.AddPending(WorkKinds.Expiry, now);
                return (from, from, change.Detail ?? "renewed");

            case InstanceCommand.Upgrade:
                // Upgrades carry the target spec: when two wait, the later one is the state to reach.
                instance.PendingUpgradeOrderId = change.OrderId;
                instance.PendingUpgradeOrderLineId = change.OrderLineId;
                instance.AddPending(WorkKinds.Upgrade, now);
                return (from, from, change.Detail ?? "upgrade");

            case InstanceCommand.Release:
                instance.ReleaseOrderId = change.OrderId;
                instance.State = decision.Next.ToString();

                // A release also goes ahead of a back-off: it goes to the tenant API, which a back-off for
                // KooGallery's API should not hold up.
                instance.ClearFailure();
                instance.AddPending(WorkKinds.Release, now);
                return (from, decision.Next, change.Detail ?? "released");

            default:
                throw new ArgumentOutOfRangeException(nameof(change), change.Command, "not a change KooGallery sends");
        }
    }
}
