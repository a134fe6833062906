using System.Text.Json;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

/// <summary>The instance life cycle end to end: callbacks → Table state → queue workers → queryInstance.</summary>
public class LifecycleTests
{
    private static JsonElement Json(CallbackReply reply) => JsonDocument.Parse(reply.Body).RootElement;

    [Fact]
    public async Task A_whole_order_from_purchase_to_release()
    {
        await using var market = await LocalMarketplace.StartAsync(webhookTenants: true);
        var id = await market.NewInstanceAsync("CS2611290001", "CS2611290001-000001", test: false);

        var whileProvisioning = await market.CallAsync("queryInstance", new { instanceId = id });
        Assert.Equal("000004", whileProvisioning.ResultCode);

        await market.DrainAsync();
        var ready = await market.CallAsync("queryInstance", new { instanceId = id });
        Assert.Equal("000000", ready.ResultCode);
        var app = Json(ready).GetProperty("info")[0].GetProperty("appInfo");
        Assert.Equal($"https://{id}.fake-tenant.example.com/", app.GetProperty("frontEndUrl").GetString());
        Assert.Equal("owner", app.GetProperty("userName").GetString());

        var renew = await market.CallAsync("refreshInstance", new { instanceId = id, orderId = "CS2611290002", orderLineId = "CS2611290002-000001", scene = "RENEWAL", expireTime = "20281129235959" });
        var freeze = await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "FREEZE" });
        await market.DrainAsync();
        var unfreeze = await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "UNFREEZE" });
        var upgrade = await market.CallAsync("upgradeInstance", new { instanceId = id, orderId = "MOCKMONTYCHANGE", orderLineId = "MOCKMONTYCHANGE-000001" });
        await market.DrainAsync();
        var release = await market.CallAsync("releaseInstance", new { instanceId = id });
        await market.DrainAsync();
        var afterRelease = await market.CallAsync("queryInstance", new { instanceId = id });

        Assert.Equal(["000000", "000000", "000000", "000000", "000000", "000000"], new[] { renew, freeze, unfreeze, upgrade, release, afterRelease }.Select(r => r.ResultCode));
        var instance = (await market.InstanceAsync(id))!;
        Assert.Equal((nameof(InstanceState.Released), "20281129235959", 20d), (instance.State, instance.ExpireTime, instance.LinearValue));
        Assert.Empty(instance.PendingWork);
        Assert.Equal(
            [$"{id}:provision:CS2611290001", $"{id}:update-expiry:CS2611290002:RENEWAL", $"{id}:suspend:status-v1", $"{id}:resume:status-v2", $"{id}:upgrade:MOCKMONTYCHANGE", $"{id}:release:gen0"],
            market.TenantApi!.Events.Select(e => e.IdempotencyKey));
        Assert.Empty(market.OpenApi.UsagePushes);

        // The event log tells the whole story, readable through the operator endpoint.
        var log = await market.App.Function<InstanceAdmin>().Get(new DefaultHttpContext().Request, id, CancellationToken.None);
        var text = JsonSerializer.Serialize(((OkObjectResult)log).Value);
        foreach (var expected in new[] { "\"Activity\":\"newInstance\"", "\"Activity\":\"refreshInstance\"", "\"Activity\":\"updateInstanceStatus\"", "\"Activity\":\"upgradeInstance\"", "\"Activity\":\"releaseInstance\"", "provision: provisioned", "release: released", "\"to\":\"Released\"" })
        {
            Assert.Contains(expected, text, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(instance.PasswordProtected!, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fifty_concurrent_new_instance_calls_for_one_order_make_one_instance_and_one_provisioning()
    {
        await using var market = await LocalMarketplace.StartAsync(webhookTenants: true);

        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => market.CallAsync("newInstance",
            new { businessId = $"biz-{i}", orderId = "CS-RACE", orderLineId = "CS-RACE-000001", testFlag = "0" })));

        Assert.All(replies, r => Assert.Equal("000000", r.ResultCode));
        Assert.Single(replies.Select(r => Json(r).GetProperty("instanceId").GetString()).Distinct());
        // Each call that raced to insert put its message beside its insert; the queue holds at most one per call, and
        // the worker provisions once whichever it takes first (below).
        Assert.InRange(await market.QueuedAsync(), 1, 50);
        var table = market.App.Services.GetRequiredService<TableServiceClient>().GetTableClient(market.App.Settings["Storage:InstanceTable"]);
        Assert.Single(await table.QueryAsync<InstanceEntity>(e => e.RowKey == InstanceKeys.InstanceRow).ToListAsync());

        await market.DrainAsync();
        Assert.Single(market.TenantApi!.Events);
        Assert.Equal(1, market.OpenApi.RequestCount);
    }

    [Fact]
    public async Task Storage_failing_during_new_instance_answers_000005_and_writes_nothing()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var tables = market.App.Services.GetRequiredService<TableServiceClient>();
        await tables.DeleteTableAsync(market.App.Settings["Storage:InstanceTable"]);

        var reply = await market.CallAsync("newInstance", new { businessId = "b1", orderId = "CS-DOWN", orderLineId = "CS-DOWN-000001", testFlag = "0" });

        Assert.Equal("000005", reply.ResultCode);
        await tables.CreateTableIfNotExistsAsync(market.App.Settings["Storage:InstanceTable"]);
        Assert.Empty(await tables.GetTableClient(market.App.Settings["Storage:InstanceTable"]).QueryAsync<TableEntity>().ToListAsync());

        // The message put beside the failed insert finds no instance, looks once more, and does nothing.
        Assert.InRange(await market.QueuedAsync(), 0, 1);
        await market.DrainAsync();
        Assert.Empty(await tables.GetTableClient(market.App.Settings["Storage:InstanceTable"]).QueryAsync<TableEntity>().ToListAsync());
        Assert.Equal(0, market.OpenApi.RequestCount);

        // KooGallery retries; once storage is back the order goes through as if nothing happened.
        var retry = await market.CallAsync("newInstance", new { businessId = "b2", orderId = "CS-DOWN", orderLineId = "CS-DOWN-000001", testFlag = "0" });
        Assert.Equal("000000", retry.ResultCode);
        await market.DrainAsync();
        Assert.Equal(nameof(InstanceState.Ready), (await market.InstanceAsync(Json(retry).GetProperty("instanceId").GetString()!))!.State);
    }

    [Fact]
    public async Task A_lost_queue_put_is_recovered_by_the_sweeper_so_no_order_is_lost()
    {
        await using var market = await LocalMarketplace.StartAsync();
        await market.WorkQueue.DeleteAsync();

        var id = await market.NewInstanceAsync("CS-NOQUEUE", test: false);
        var instance = (await market.InstanceAsync(id))!;
        Assert.Equal((nameof(InstanceState.Provisioning), WorkKinds.Provision), (instance.State, instance.PendingWork));

        await market.WorkQueue.CreateAsync();
        var sweeper = market.App.Services.GetRequiredService<LifecycleSweeper>();
        Assert.Equal(0, (await sweeper.SweepAsync(CancellationToken.None)).Requeued); // not stale yet
        market.App.Clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(1, (await sweeper.SweepAsync(CancellationToken.None)).Requeued);
        await market.DrainAsync();

        Assert.Equal(nameof(InstanceState.Ready), (await market.InstanceAsync(id))!.State);
    }

    [Fact]
    public async Task A_permanent_error_fails_the_instance_at_once_without_retries()
    {
        await using var market = await LocalMarketplace.StartAsync(openApiOptions: new OpenApiEmulatorOptions { Strict = true, UsagePushKeys = [TestApp.Key] });
        var id = await market.NewInstanceAsync("CS-UNKNOWN-TO-KOOGALLERY", test: false);

        await market.DrainAsync();

        var instance = (await market.InstanceAsync(id))!;
        Assert.Equal(nameof(InstanceState.Failed), instance.State);
        Assert.Contains("92020002", instance.FailureReason, StringComparison.Ordinal);
        Assert.Equal(1, market.OpenApi.RequestCount);
    }

    [Fact]
    public async Task Status_messages_delivered_out_of_order_still_leave_the_tenant_matching_the_instance()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();

        await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "FREEZE", testFlag = "1" });
        await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "UNFREEZE", testFlag = "1" });
        // Both messages are queued; whichever runs first applies the current state (Ready), the other finds nothing pending.
        await market.DrainAsync();

        var tenant = await market.App.Services.GetRequiredService<BuiltInTenantProvisioner>().FindAsync(id, CancellationToken.None);
        Assert.Equal(TenantStatus.Active, tenant!.Status);
        Assert.Empty((await market.InstanceAsync(id))!.PendingWork);
    }

    [Fact]
    public async Task A_release_during_provisioning_never_leaves_a_tenant_behind()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKONETIMENEW");

        var release = await market.CallAsync("releaseInstance", new { instanceId = id, testFlag = "1" });
        await market.DrainAsync();

        Assert.Equal("000000", release.ResultCode);
        Assert.Equal(nameof(InstanceState.Released), (await market.InstanceAsync(id))!.State);
        var tenant = await market.App.Services.GetRequiredService<BuiltInTenantProvisioner>().FindAsync(id, CancellationToken.None);
        Assert.True(tenant is null || tenant.Status == TenantStatus.Released);
    }

    [Fact]
    public async Task Debug_calls_never_reach_the_merchants_tenant_api()
    {
        await using var market = await LocalMarketplace.StartAsync(webhookTenants: true);

        var debug = await market.NewInstanceAsync("MOCKPERIODYEARNEW", test: true);
        var real = await market.NewInstanceAsync("CS-REAL", test: false);
        await market.DrainAsync();

        Assert.Equal($"https://{debug}.tenants.example.com/", (await market.InstanceAsync(debug))!.FrontEndUrl);
        Assert.Equal($"https://{real}.fake-tenant.example.com/", (await market.InstanceAsync(real))!.FrontEndUrl);
        Assert.All(market.TenantApi!.Events, e => Assert.Equal(real, e.Body["instanceId"]!.GetValue<string>()));
    }

    [Fact]
    public async Task A_released_debug_instance_is_provisioned_again_by_the_next_debug_run()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        await market.CallAsync("releaseInstance", new { instanceId = id, testFlag = "1" });
        await market.DrainAsync();

        var again = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();

        Assert.Equal(id, again);
        var instance = (await market.InstanceAsync(id))!;
        Assert.Equal((nameof(InstanceState.Ready), 1), (instance.State, instance.Generation));
    }

    [Fact]
    public async Task Mixed_query_batches_answer_the_worst_code_with_what_is_ready()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var ready = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        var pending = await market.NewInstanceAsync("MOCKONETIMENEW");

        var readyAndPending = await market.CallAsync("queryInstance", new { instanceId = $"{ready},{pending}" });
        var withUnknown = await market.CallAsync("queryInstance", new { instanceId = $"{ready},{pending},unknown-1" });

        Assert.Equal("000004", readyAndPending.ResultCode);
        Assert.Equal([ready], Json(readyAndPending).GetProperty("info").EnumerateArray().Select(e => e.GetProperty("instanceId").GetString()));
        Assert.Equal("000003", withUnknown.ResultCode);
        Assert.Contains("unknown-1", withUnknown.ResultMsg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nonsense_transitions_get_a_clear_code()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");

        await market.DrainAsync();
        await market.CallAsync("releaseInstance", new { instanceId = id, testFlag = "1" });
        await market.DrainAsync();
        var unfreezeReleased = await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "UNFREEZE", testFlag = "1" });
        var renewReleased = await market.CallAsync("refreshInstance", new { instanceId = id, orderId = "O", orderLineId = "L", scene = "RENEWAL", expireTime = "20300101000000" });
        var unknownFreeze = await market.CallAsync("updateInstanceStatus", new { instanceId = "ghost", status = "FREEZE" });

        Assert.Equal("000002", unfreezeReleased.ResultCode);
        Assert.Contains("released", unfreezeReleased.ResultMsg, StringComparison.Ordinal);
        Assert.Equal("000002", renewReleased.ResultCode);
        Assert.Equal("000003", unknownFreeze.ResultCode);
    }

    [Fact]
    public async Task Admin_lookup_by_order_lists_its_instances()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var a = await market.NewInstanceAsync("MOCKONDEMAND", productId: "A");
        var b = await market.NewInstanceAsync("MOCKONDEMAND", productId: "B");

        var result = await market.App.Function<InstanceAdmin>().ByOrder(new DefaultHttpContext().Request, "MOCKONDEMAND", CancellationToken.None);

        var text = JsonSerializer.Serialize(((OkObjectResult)result).Value);
        Assert.Contains(a, text, StringComparison.Ordinal);
        Assert.Contains(b, text, StringComparison.Ordinal);
        Assert.IsType<NotFoundObjectResult>(await market.App.Function<InstanceAdmin>().Get(new DefaultHttpContext().Request, "ghost", CancellationToken.None));
    }

    [Fact]
    public async Task An_unreadable_queue_message_is_dropped_instead_of_poisoning()
    {
        await using var market = await LocalMarketplace.StartAsync();
        await market.WorkQueue.SendMessageAsync("not json at all");

        await market.DrainAsync();

        Assert.Equal(0, await market.QueuedAsync(market.PoisonQueue));
    }

    [Fact]
    public void Queue_messages_are_read_whether_the_binding_decodes_them_or_not()
    {
        var json = new LifecycleWork("i-1", WorkKinds.Status).ToJson();
        var base64 = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(json));

        Assert.Equal(new LifecycleWork("i-1", WorkKinds.Status), LifecycleWork.FromQueueBody(BinaryData.FromString(json)));
        Assert.Equal(new LifecycleWork("i-1", WorkKinds.Status), LifecycleWork.FromQueueBody(BinaryData.FromString(base64)));
        Assert.Null(LifecycleWork.FromQueueBody(BinaryData.FromString("""{"instanceId":"i","work":"explode"}""")));
    }
}
