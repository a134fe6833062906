using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Operations;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Tests;

/// <summary>
/// The console's Find (by order, customer) and the failed list read index rows kept as instances are created and
/// change, then a point read per instance — never a scan of the instance table, however many instances exist.
/// Instances from before the indexes are found by the old scan until the daily retention has backfilled them.
/// </summary>
public class InstanceIndexTests
{
    private const string EmulatedCustomer = "68cbc86abc2018ab880d92f36422fa0e";

    /// <summary>Every request to storage, whole (query string included), to tell a partition read from a scan.</summary>
    internal sealed class RequestLog : HttpPipelinePolicy
    {
        private readonly List<Uri> requests = [];

        public IReadOnlyList<Uri> Requests
        {
            get
            {
                lock (requests)
                {
                    return requests.ToList();
                }
            }
        }

        public void Clear()
        {
            lock (requests)
            {
                requests.Clear();
            }
        }

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            Add(message);
            ProcessNext(message, pipeline);
        }

        public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            Add(message);
            return ProcessNextAsync(message, pipeline);
        }

        private void Add(HttpMessage message)
        {
            lock (requests)
            {
                requests.Add(message.Request.Uri.ToUri());
            }
        }

        /// <summary>Reads of <paramref name="table"/> that are neither a point read nor confined to one partition.</summary>
        public List<string> Scans(string table) => Requests
            .Where(u => u.AbsolutePath.Contains("/" + table + "()", StringComparison.Ordinal))
            .Select(u => Uri.UnescapeDataString(u.Query))
            .Where(q => !q.Contains("$filter=PartitionKey eq", StringComparison.Ordinal) && !q.Contains("$filter=(PartitionKey eq", StringComparison.Ordinal))
            .ToList();
    }

    [Fact]
    public async Task Find_by_order_and_customer_and_the_failed_list_read_index_rows_not_the_table()
    {
        var log = new RequestLog();
        await using var market = await LocalMarketplace.StartAsync(
            s =>
            {
                s["OutboundHttp:AttemptTimeout"] = "00:00:00.300";
                s["OutboundHttp:BreakerDuration"] = "00:00:00.100";
                s["Lifecycle:GiveUpAfter"] = "01:00:00";
            },
            services: s => StorageRoundTrips.WithPolicy(s, log));
        for (var i = 0; i < 20; i++)
        {
            await market.NewInstanceAsync($"MOCKPERIODYEARNEW-{i}"); // debug instances of other orders
        }

        var production = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            production.Add(await market.NewInstanceAsync($"CS-INDEX-{i}", test: false));
        }

        await market.DrainAsync();
        market.OpenApi.Faults.OutageUntil(market.App.Clock, market.App.Clock.GetUtcNow() + TimeSpan.FromHours(3), new Fault.ServerError(503));
        var failed = await market.NewInstanceAsync("CS-INDEX-FAILS", test: false);
        await market.DrainAsync();
        market.OpenApi.Faults.Clear();
        Assert.Equal(nameof(InstanceState.Failed), (await market.InstanceAsync(failed))!.State);
        var repository = market.App.Services.GetRequiredService<InstanceRepository>();
        var table = market.App.Services.GetRequiredService<IOptions<StorageOptions>>().Value.InstanceTable;

        log.Clear();
        var byOrder = await repository.FindByOrderAsync("CS-INDEX-1", CancellationToken.None);
        var byCustomer = await repository.FindByCustomerAsync(EmulatedCustomer, CancellationToken.None);
        var failing = await repository.FindFailedAsync(null, null, CancellationToken.None);
        var console = await market.App.Services.GetRequiredService<OperatorConsole>().FindAsync("CS-INDEX-2", CancellationToken.None);

        Assert.Equal([production[1]], byOrder.Select(i => i.InstanceId));
        Assert.Equal(production.Order(StringComparer.Ordinal), byCustomer.Select(i => i.InstanceId).Order(StringComparer.Ordinal));
        Assert.Equal([failed], failing.Select(i => i.InstanceId));
        Assert.Contains(production[2], System.Text.Json.JsonSerializer.Serialize(console), StringComparison.Ordinal);
        Assert.Empty(log.Scans(table));

        // Re-driven out of Failed: off the failed list.
        Assert.True((await market.App.Services.GetRequiredService<InstanceLifecycle>().RedriveAsync(failed, CancellationToken.None)).Redriven);
        await market.DrainAsync();
        Assert.Empty(await repository.FindFailedAsync(null, null, CancellationToken.None));
        Assert.Empty(await market.App.Services.GetRequiredService<TableServiceClient>().GetTableClient(table)
            .QueryAsync<TableEntity>(e => e.PartitionKey == InstanceKeys.FailedIndex).ToListAsync());
    }

    [Fact]
    public async Task Instances_per_state_come_from_a_few_rows_kept_as_states_change_and_the_daily_recount_corrects_drift()
    {
        var log = new RequestLog();
        await using var market = await LocalMarketplace.StartAsync(services: s => StorageRoundTrips.WithPolicy(s, log));
        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add(await market.NewInstanceAsync($"MOCKPERIODYEARNEW-STATES-{i}"));
        }

        ids.Add(await market.NewInstanceAsync("CS-STATES-1", test: false));
        ids.Add(await market.NewInstanceAsync("CS-STATES-2", test: false));
        await market.DrainAsync();
        Assert.Equal("000000", (await market.CallAsync("updateInstanceStatus", new { instanceId = ids[0], status = "FREEZE", testFlag = "1" })).ResultCode);
        Assert.Equal("000000", (await market.CallAsync("releaseInstance", new { instanceId = ids[4], testFlag = "0" })).ResultCode);
        await market.DrainAsync();
        var counts = market.App.Services.GetRequiredService<InstanceStateCounts>();
        var repository = market.App.Services.GetRequiredService<InstanceRepository>();
        await counts.FlushAsync(CancellationToken.None);

        var truth = await repository.CountByStateAsync(CancellationToken.None);
        Assert.Equal([("Frozen", (0, 1)), ("Ready", (1, 3)), ("Released", (1, 0))], truth.Select(t => (t.Key, t.Value)));
        Assert.Equal(truth.Select(t => (t.Key, t.Value)), (await counts.ReadAsync(CancellationToken.None)).Select(t => (t.Key, t.Value)));

        // The overview reads those rows: no read of the instance table is a scan.
        log.Clear();
        var overview = JsonSerializer.Serialize(await market.App.Services.GetRequiredService<OperatorConsole>().OverviewAsync(CancellationToken.None));
        Assert.Contains("\"state\":\"Frozen\"", overview, StringComparison.Ordinal);
        Assert.Empty(log.Scans(market.App.Services.GetRequiredService<IOptions<StorageOptions>>().Value.InstanceTable));

        // A worker's count that never matched storage (it died between a commit and its flush, say) is gone after the recount.
        counts.Changed(null, "Ready", isTest: false);
        await counts.FlushAsync(CancellationToken.None);
        Assert.Equal((2, 3), (await counts.ReadAsync(CancellationToken.None))["Ready"]);
        await market.App.Services.GetRequiredService<Metering.Retention>().RunAsync(CancellationToken.None);
        Assert.Equal(truth.Select(t => (t.Key, t.Value)), (await counts.ReadAsync(CancellationToken.None)).Select(t => (t.Key, t.Value)));

        // Changes after the recount land on top of its base.
        Assert.Equal("000000", (await market.CallAsync("updateInstanceStatus", new { instanceId = ids[1], status = "FREEZE", testFlag = "1" })).ResultCode);
        await market.DrainAsync();
        await counts.FlushAsync(CancellationToken.None);
        Assert.Equal((0, 2), (await counts.ReadAsync(CancellationToken.None))["Frozen"]);
    }

    [Fact]
    public async Task Instances_from_before_the_indexes_are_found_by_the_old_scan_until_retention_backfills_them()
    {
        var log = new RequestLog();
        await using var market = await LocalMarketplace.StartAsync(services: s => StorageRoundTrips.WithPolicy(s, log));
        var id = await market.NewInstanceAsync("CS-LEGACY-1", test: false);
        await market.DrainAsync();
        var tables = market.App.Services.GetRequiredService<TableServiceClient>();
        var table = tables.GetTableClient(market.App.Services.GetRequiredService<IOptions<StorageOptions>>().Value.InstanceTable);

        // As a deployment from before the indexes: no index rows, no marker.
        foreach (var index in await table.QueryAsync<TableEntity>(e => e.PartitionKey.CompareTo("~") >= 0).ToListAsync())
        {
            await table.DeleteEntityAsync(index.PartitionKey, index.RowKey, ETag.All);
        }

        var legacy = ActivatorUtilities.CreateInstance<InstanceRepository>(market.App.Services); // a fresh worker: nothing remembered
        Assert.Equal([id], (await legacy.FindByOrderAsync("CS-LEGACY-1", CancellationToken.None)).Select(i => i.InstanceId));
        Assert.Equal([id], (await legacy.FindByCustomerAsync(EmulatedCustomer, CancellationToken.None)).Select(i => i.InstanceId));

        // The daily retention of a worker that, like every worker of the old deployment, has not seen a marker.
        await ActivatorUtilities.CreateInstance<Metering.Retention>(market.App.Services, legacy).RunAsync(CancellationToken.None);

        var fresh = ActivatorUtilities.CreateInstance<InstanceRepository>(market.App.Services);
        log.Clear();
        Assert.Equal([id], (await fresh.FindByOrderAsync("CS-LEGACY-1", CancellationToken.None)).Select(i => i.InstanceId));
        Assert.Equal([id], (await fresh.FindByCustomerAsync(EmulatedCustomer, CancellationToken.None)).Select(i => i.InstanceId));
        Assert.True(log.Scans(table.Name).Count == 0, string.Join("\n", log.Scans(table.Name)));
        Assert.Equal(0, await fresh.BackfillIndexAsync(CancellationToken.None)); // once is enough
    }
}
