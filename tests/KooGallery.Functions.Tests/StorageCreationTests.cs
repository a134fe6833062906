using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Storage;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Where the app creates its own tables and queues (<c>Storage__CreateAtStart=true</c>, every local run): a callback
/// that arrives while they are being created, or after storage lost them, still lands — storage trouble costs time,
/// never an order.
/// </summary>
public class StorageCreationTests
{
    private static string NewInstance(string order) =>
        $$"""{"activity":"newInstance","businessId":"b-{{order}}","orderId":"{{order}}","orderLineId":"{{order}}-000001","testFlag":"1"}""";

    private static Task StartCreationAsync(TestApp app) =>
        ((IHostedService)app.Services.GetRequiredService<StorageInitializer>()).StartAsync(CancellationToken.None);

    [Fact]
    public async Task A_callback_the_moment_the_app_starts_waits_for_its_tables_instead_of_failing_on_them()
    {
        var storage = new Watched { SlowCreation = TimeSpan.FromMilliseconds(700) };
        await using var app = await TestApp.StartAsync(services: s => StorageRoundTrips.WithPolicy(s, storage), createStorage: false);
        await StartCreationAsync(app);

        var reply = await SignedCall.SendSignedAsync(app, NewInstance("CS-SC-EARLY"));

        Assert.Equal("000000", reply.ResultCode);
        Assert.Empty(storage.Missing); // no call reached a table or queue before it existed
        Assert.Single(await app.Services.GetRequiredService<InstanceRepository>().FindByOrderAsync("CS-SC-EARLY", CancellationToken.None));
    }

    [Fact]
    public async Task Tables_and_a_queue_lost_while_the_app_runs_are_created_again_and_the_callback_lands()
    {
        var storage = new Watched();
        await using var app = await TestApp.StartAsync(services: s => StorageRoundTrips.WithPolicy(s, storage));
        await StartCreationAsync(app);
        await app.Services.GetRequiredService<StorageInitializer>().Running;
        var tables = app.Services.GetRequiredService<TableServiceClient>();
        var lifecycle = app.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(app.Settings["KooGalleryLifecycleQueue"]);
        await tables.DeleteTableAsync(app.Settings["Storage:NonceTable"]);
        await tables.DeleteTableAsync(app.Settings["Storage:InstanceTable"]);
        await lifecycle.DeleteAsync();

        var reply = await SignedCall.SendSignedAsync(app, NewInstance("CS-SC-WIPED"));

        Assert.Equal("000000", reply.ResultCode);
        Assert.Contains("TableNotFound", storage.Missing);
        Assert.Single(await app.Services.GetRequiredService<InstanceRepository>().FindByOrderAsync("CS-SC-WIPED", CancellationToken.None));
        var message = Assert.Single((await lifecycle.ReceiveMessagesAsync(maxMessages: 32)).Value);
        Assert.Equal(WorkKinds.Provision, LifecycleWork.FromQueueBody(message.Body)!.Work);
    }

    [Fact]
    public async Task Storage_unreachable_at_start_is_tried_again_until_the_tables_exist()
    {
        var outage = new StorageOutage();
        await using var app = await TestApp.StartAsync(services: outage.FailIn, createStorage: false);
        outage.Arm(_ => true);
        var initializer = app.Services.GetRequiredService<StorageInitializer>();

        await StartCreationAsync(app);
        Assert.True(SpinWait.SpinUntil(() => outage.Failed > 0, TimeSpan.FromSeconds(10)), "the creation was tried");
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        Assert.False(initializer.Running.IsCompleted, "the creation gave up while storage was unreachable");
        outage.Disarm();

        await initializer.Running.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal("000000", (await SignedCall.SendSignedAsync(app, NewInstance("CS-SC-LATE"))).ResultCode);
    }

    [Fact]
    public async Task Deployed_without_creation_a_missing_table_is_not_created_and_the_callback_asks_for_a_retry()
    {
        var storage = new Watched();
        await using var app = await TestApp.StartAsync(s => s["Storage:CreateAtStart"] = "false", services: s => StorageRoundTrips.WithPolicy(s, storage));
        await StartCreationAsync(app);
        var tables = app.Services.GetRequiredService<TableServiceClient>();
        await tables.DeleteTableAsync(app.Settings["Storage:InstanceTable"]);

        var reply = await SignedCall.SendSignedAsync(app, NewInstance("CS-SC-NOCREATE"));

        Assert.Equal("000005", reply.ResultCode);
        Assert.DoesNotContain(await tables.QueryAsync(t => t.Name == app.Settings["Storage:InstanceTable"]).ToListAsync(), t => true);
    }

    /// <summary>Records the calls storage refused for a missing table or queue; optionally slows table creation.</summary>
    private sealed class Watched : HttpPipelinePolicy
    {
        private readonly List<string> missing = [];

        public TimeSpan SlowCreation { get; init; }

        public IReadOnlyList<string> Missing
        {
            get
            {
                lock (missing)
                {
                    return missing.ToList();
                }
            }
        }

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => throw new NotSupportedException();

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            if (SlowCreation > TimeSpan.Zero && message.Request.Method == RequestMethod.Post && message.Request.Uri.Path.EndsWith("/Tables", StringComparison.Ordinal))
            {
                await Task.Delay(SlowCreation);
            }

            await ProcessNextAsync(message, pipeline);
            var body = message.Response.Status is 404 or 202 ? message.Response.Content.ToString() : string.Empty;
            foreach (var code in StorageCreationPolicy.MissingCodes.Where(c => body.Contains(c, StringComparison.Ordinal)))
            {
                lock (missing)
                {
                    missing.Add(code);
                }
            }
        }
    }
}
