using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using KooGallery.Functions.JointOperation;
using KooGallery.Protocol.DialTest;
using KooGallery.Protocol.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.DialTest;

/// <summary>
/// Removes every trace of a dial-test run's orders: the instance is released (if the run could not) and,
/// once its teardown has finished, its partition and its built-in tenant are deleted; the licence and the kit
/// tenant the run named are deleted too. All ids follow from the run id, so a run that died before it learnt
/// its instance id is cleaned up as well. Dial-test orders always use the built-in provisioner (testFlag=1),
/// so no merchant system holds anything of them.
/// </summary>
public sealed class DialTestCleanup(
    TableServiceClient tables,
    IOptions<StorageOptions> names,
    InstanceRepository instances,
    InstanceLifecycle lifecycle,
    InstanceStateCounts stateCounts,
    DialTestStore store,
    ILogger<DialTestCleanup> logger)
{
    /// <summary>Earlier runs still listed for clean-up, a bounded number per run.</summary>
    public async Task CleanEarlierAsync(string currentRunId, CancellationToken cancellationToken)
    {
        foreach (var runId in await store.PendingCleanupsAsync(20, cancellationToken).ConfigureAwait(false))
        {
            if (runId != currentRunId && await CleanAsync(runId, TimeSpan.Zero, cancellationToken).ConfigureAwait(false))
            {
                logger.LogInformation("Dial test run {RunId}, left unfinished, is cleaned up.", runId);
            }
        }
    }

    /// <returns>True when nothing of the run is left; false when its instance's teardown is still running (the next run finishes it).</returns>
    public async Task<bool> CleanAsync(string runId, TimeSpan wait, CancellationToken cancellationToken)
    {
        var orderId = DialTestOrders.OrderId(runId);
        var instanceId = InstanceKeys.InstanceId(orderId, DialTestOrders.OrderLineId(runId), null);
        if (!await ReleasedAsync(instanceId, orderId, wait, cancellationToken).ConfigureAwait(false))
        {
            logger.LogInformation("Dial test run {RunId}: instance {InstanceId} is still being released; the next run purges it.", runId, instanceId);
            return false;
        }

        // Its index rows first (the order's, the customer's, the failed list's), then the instance partition.
        var instance = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (instance?.CustomerId is { Length: > 0 } customer)
        {
            await DeleteAsync(names.Value.InstanceTable, InstanceKeys.CustomerIndex(customer), InstanceKeys.Escape(instanceId), cancellationToken).ConfigureAwait(false);
        }

        await DeletePartitionAsync(names.Value.InstanceTable, InstanceKeys.OrderIndex(orderId), cancellationToken).ConfigureAwait(false);
        await DeleteAsync(names.Value.InstanceTable, InstanceKeys.FailedIndex, InstanceKeys.Escape(instanceId), cancellationToken).ConfigureAwait(false);
        await DeletePartitionAsync(names.Value.InstanceTable, InstanceKeys.Escape(instanceId), cancellationToken).ConfigureAwait(false);
        if (instance is not null)
        {
            stateCounts.Changed(instance.State, null, instance.IsTest);
        }

        await DeletePartitionAsync(names.Value.TenantTable, instanceId, cancellationToken).ConfigureAwait(false);
        await DeletePartitionAsync(names.Value.LicenseTable, InstanceKeys.Escape(DialTestOrders.License(runId)), cancellationToken).ConfigureAwait(false);
        var tenant = DialTestOrders.TenantId(runId);
        await DeletePartitionAsync(names.Value.JointTable, KitTenantEntity.PartitionFor(tenant), cancellationToken).ConfigureAwait(false);
        await DeleteAsync(names.Value.JointTable, KitTenantCodeEntity.Partition, InstanceKeys.Escape(tenant), cancellationToken).ConfigureAwait(false);
        await store.RemoveCleanupAsync(runId, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Released with no work left (or never created); releases it when the run could not.</summary>
    private async Task<bool> ReleasedAsync(string instanceId, string orderId, TimeSpan wait, CancellationToken cancellationToken)
    {
        var instance = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (instance is null || Done(instance))
        {
            return true;
        }

        if (instance.CurrentState != InstanceState.Releasing)
        {
            await lifecycle.ReleaseInstanceAsync(new ReleaseInstanceRequest(instanceId, orderId, null, IsTest: true), cancellationToken).ConfigureAwait(false);
        }

        // Teardown runs on the lifecycle queue; the dial test's own clock is wall time (not the app's TimeProvider).
        var deadline = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
            instance = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
            if (instance is null || Done(instance))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Done(InstanceEntity instance) => instance.CurrentState == InstanceState.Released && instance.Pending.Count == 0;

    private async Task DeletePartitionAsync(string table, string partition, CancellationToken cancellationToken)
    {
        var client = tables.GetTableClient(table);
        var rows = await client.QueryAsync<TableEntity>(e => e.PartitionKey == partition, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var chunk in rows.Chunk(100))
        {
            await client.SubmitTransactionAsync(chunk.Select(r => new TableTransactionAction(TableTransactionActionType.Delete, r, ETag.All)), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task DeleteAsync(string table, string partition, string row, CancellationToken cancellationToken)
    {
        try
        {
            await tables.GetTableClient(table).DeleteEntityAsync(partition, row, ETag.All, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            // Never written (no tenantSync played, never failed): nothing to delete.
        }
    }
}
