using KooGallery.Functions.Instances;
using static KooGallery.Functions.Instances.DecisionKind;
using static KooGallery.Functions.Instances.InstanceCommand;
using static KooGallery.Functions.Instances.InstanceState;

namespace KooGallery.Functions.Tests;

/// <summary>Every (state, command) cell of the instance state machine, with its outcome and answer code.</summary>
public class InstanceStateMachineTests
{
    public static TheoryData<InstanceState, InstanceCommand, DecisionKind, InstanceState, string> Cells => new()
    {
        { Ready, Freeze, Apply, Frozen, "000000" },
        { Frozen, Freeze, AlreadyDone, Frozen, "000000" },
        { InstanceState.Provisioning, Freeze, Apply, InstanceState.Provisioning, "000000" },
        { Releasing, Freeze, AlreadyDone, Releasing, "000000" },
        { Released, Freeze, AlreadyDone, Released, "000000" },
        { Failed, Freeze, Apply, Failed, "000000" },

        { Frozen, Unfreeze, Apply, Ready, "000000" },
        { Ready, Unfreeze, AlreadyDone, Ready, "000000" },
        { InstanceState.Provisioning, Unfreeze, Apply, InstanceState.Provisioning, "000000" },
        { Releasing, Unfreeze, Reject, Releasing, "000002" },
        { Released, Unfreeze, Reject, Released, "000002" },
        { Failed, Unfreeze, Apply, Failed, "000000" },

        { Ready, Refresh, Apply, Ready, "000000" },
        { Frozen, Refresh, Apply, Frozen, "000000" },
        { InstanceState.Provisioning, Refresh, Apply, InstanceState.Provisioning, "000000" },
        { Releasing, Refresh, Reject, Releasing, "000002" },
        { Released, Refresh, Reject, Released, "000002" },
        { Failed, Refresh, Apply, Failed, "000000" },

        { Ready, Upgrade, Apply, Ready, "000000" },
        { Frozen, Upgrade, Apply, Frozen, "000000" },
        { InstanceState.Provisioning, Upgrade, Apply, InstanceState.Provisioning, "000000" },
        { Releasing, Upgrade, Reject, Releasing, "000002" },
        { Released, Upgrade, Reject, Released, "000002" },
        { Failed, Upgrade, Apply, Failed, "000000" },

        { InstanceState.Provisioning, Release, Apply, Releasing, "000000" },
        { Ready, Release, Apply, Releasing, "000000" },
        { Frozen, Release, Apply, Releasing, "000000" },
        { Failed, Release, Apply, Releasing, "000000" },
        { Releasing, Release, AlreadyDone, Releasing, "000000" },
        { Released, Release, AlreadyDone, Released, "000000" },

        { InstanceState.Provisioning, ProvisioningSucceeded, Apply, Ready, "000000" },
        { Ready, ProvisioningSucceeded, AlreadyDone, Ready, "000000" },
        { Releasing, ProvisioningSucceeded, AlreadyDone, Releasing, "000000" },
        { Released, ProvisioningSucceeded, AlreadyDone, Released, "000000" },
        { Frozen, ProvisioningSucceeded, AlreadyDone, Frozen, "000000" },
        { Failed, ProvisioningSucceeded, AlreadyDone, Failed, "000000" },

        { Releasing, ReleaseSucceeded, Apply, Released, "000000" },
        { Released, ReleaseSucceeded, AlreadyDone, Released, "000000" },
        { InstanceState.Provisioning, ReleaseSucceeded, AlreadyDone, InstanceState.Provisioning, "000000" },
        { Ready, ReleaseSucceeded, AlreadyDone, Ready, "000000" },
        { Frozen, ReleaseSucceeded, AlreadyDone, Frozen, "000000" },
        { Failed, ReleaseSucceeded, AlreadyDone, Failed, "000000" },

        { InstanceState.Provisioning, WorkGaveUp, Apply, Failed, "000000" },
        { Ready, WorkGaveUp, Apply, Failed, "000000" },
        { Frozen, WorkGaveUp, Apply, Failed, "000000" },
        { Releasing, WorkGaveUp, Apply, Failed, "000000" },
        { Released, WorkGaveUp, AlreadyDone, Released, "000000" },
        { Failed, WorkGaveUp, AlreadyDone, Failed, "000000" },

        { Failed, Redrive, Apply, InstanceState.Provisioning, "000000" },
        { InstanceState.Provisioning, Redrive, Reject, InstanceState.Provisioning, "000002" },
        { Ready, Redrive, Reject, Ready, "000002" },
        { Frozen, Redrive, Reject, Frozen, "000002" },
        { Releasing, Redrive, Reject, Releasing, "000002" },
        { Released, Redrive, Reject, Released, "000002" },

        { Released, ReviveForTest, Apply, InstanceState.Provisioning, "000000" },
        { InstanceState.Provisioning, ReviveForTest, AlreadyDone, InstanceState.Provisioning, "000000" },
        { Ready, ReviveForTest, AlreadyDone, Ready, "000000" },
        { Frozen, ReviveForTest, AlreadyDone, Frozen, "000000" },
        { Releasing, ReviveForTest, AlreadyDone, Releasing, "000000" },
        { Failed, ReviveForTest, AlreadyDone, Failed, "000000" },
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public void Every_transition_is_decided_as_documented(InstanceState state, InstanceCommand command, DecisionKind kind, InstanceState next, string code)
    {
        var decision = InstanceStateMachine.Decide(state, command);

        Assert.Equal((kind, next, code), (decision.Kind, decision.Next, decision.Code.Value));
        Assert.False(string.IsNullOrWhiteSpace(decision.Message));
    }

    [Fact]
    public void The_table_covers_every_state_and_command()
    {
        var covered = Cells.Select(row => ((InstanceState)row[0], (InstanceCommand)row[1])).ToHashSet();
        foreach (var state in Enum.GetValues<InstanceState>())
        {
            foreach (var command in Enum.GetValues<InstanceCommand>())
            {
                Assert.True(covered.Contains((state, command)), $"no test for {command} in {state}");
            }
        }
    }

    [Theory]
    [InlineData(Ready)]
    [InlineData(Frozen)]
    [InlineData(Releasing)]
    public void Redrive_goes_back_to_the_state_it_is_told(InstanceState target)
    {
        Assert.Equal(target, InstanceStateMachine.Decide(Failed, Redrive, target).Next);
    }
}
