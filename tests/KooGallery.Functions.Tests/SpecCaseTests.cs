using System.Text.Json;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.Signing;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

/// <summary>§7.3, the local equivalent of KooGallery's debugging cases, one test per case, on the real app.</summary>
public class SpecCaseTests
{
    private static JsonElement Json(CallbackReply reply) => JsonDocument.Parse(reply.Body).RootElement;

    [Fact]
    public async Task Case01_new_instance_for_a_yearly_mock_order_answers_an_id_at_once()
    {
        await using var market = await LocalMarketplace.StartAsync();

        var watch = System.Diagnostics.Stopwatch.StartNew();
        var reply = await market.CallAsync("newInstance", new { businessId = Guid.NewGuid().ToString(), orderId = "MOCKPERIODYEARNEW", orderLineId = "MOCKPERIODYEARNEW-000001", testFlag = "1" });
        watch.Stop();

        Assert.Equal("000000", reply.ResultCode);
        var instanceId = Json(reply).GetProperty("instanceId").GetString()!;
        Assert.InRange(instanceId.Length, 1, 64);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Equal(nameof(InstanceState.Provisioning), (await market.InstanceAsync(instanceId))!.State);
        Assert.Equal(1, await market.QueuedAsync());
        Assert.Equal(0, market.OpenApi.RequestCount); // nothing outbound on the callback path
    }

    [Fact]
    public async Task Case02_the_same_order_line_with_a_new_business_id_answers_the_same_instance()
    {
        await using var market = await LocalMarketplace.StartAsync();

        var first = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        var second = await market.NewInstanceAsync("MOCKPERIODYEARNEW");

        Assert.Equal(first, second);
        Assert.Equal(1, await market.QueuedAsync());
    }

    [Fact]
    public async Task Case03_one_time_on_demand_package_and_trial_orders_and_one_instance_per_product()
    {
        await using var market = await LocalMarketplace.StartAsync();

        var ids = new List<string>();
        foreach (var order in new[] { "MOCKONETIMENEW", "MOCKONDEMAND", "MOCKONDEMANDPKG", "MOCKPERIODDAYTRIAL" })
        {
            ids.Add(await market.NewInstanceAsync(order));
        }

        var productA = await market.NewInstanceAsync("MOCKONDEMAND", productId: "OFFI-ITEM-A");
        var productB = await market.NewInstanceAsync("MOCKONDEMAND", productId: "OFFI-ITEM-B");
        var productAAgain = await market.NewInstanceAsync("MOCKONDEMAND", productId: "OFFI-ITEM-A");
        await market.DrainAsync();

        Assert.Equal(4, ids.Distinct().Count());
        Assert.NotEqual(productA, productB);
        Assert.Equal(productA, productAAgain);
        Assert.Equal("ON_DEMAND", (await market.InstanceAsync(ids[1]))!.ChargingMode);
        Assert.Equal("ON_DEMAND_PKG", (await market.InstanceAsync(ids[2]))!.ChargingMode);
        foreach (var id in ids.Append(productA).Append(productB))
        {
            Assert.Equal(nameof(InstanceState.Ready), (await market.InstanceAsync(id))!.State);
        }
    }

    [Fact]
    public async Task Case04_query_one_and_three_ids_with_app_info_and_101_ids_is_refused()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var ids = new[] { await market.NewInstanceAsync("MOCKPERIODYEARNEW"), await market.NewInstanceAsync("MOCKONETIMENEW"), await market.NewInstanceAsync("MOCKPERIODDAYTRIAL") };
        await market.DrainAsync();

        var one = await market.CallAsync("queryInstance", new { instanceId = ids[0], testFlag = "1" });
        var three = await market.CallAsync("queryInstance", new { instanceId = string.Join(',', ids), testFlag = "1" });
        var tooMany = await market.CallAsync("queryInstance", new { instanceId = string.Join(',', Enumerable.Range(0, 101).Select(i => $"id{i}")), testFlag = "1" });

        Assert.Equal("000000", one.ResultCode);
        var info = Json(one).GetProperty("info")[0];
        Assert.Equal(ids[0], info.GetProperty("instanceId").GetString());
        Assert.InRange(info.GetProperty("appInfo").GetProperty("frontEndUrl").GetString()!.Length, 1, 512);
        Assert.Equal("000000", three.ResultCode);
        Assert.Equal(ids, Json(three).GetProperty("info").EnumerateArray().Select(e => e.GetProperty("instanceId").GetString()));
        Assert.All(Json(three).GetProperty("info").EnumerateArray(), e => Assert.StartsWith("https://", e.GetProperty("appInfo").GetProperty("frontEndUrl").GetString(), StringComparison.Ordinal));
        Assert.Equal("000002", tooMany.ResultCode);
    }

    [Theory]
    [InlineData("TRIAL_TO_FORMAL", "MOCKMONTYTRIALTOFORMAL")]
    [InlineData("RENEWAL", "MOCKMONTYRENEW")]
    [InlineData("UNSUBSCRIBE_RENEWAL_PERIOD", "MOCKMONTYUNSUBSCRIBE")]
    [InlineData("RENEWAL_CHANGE", "MOCKMONTYRENEW")]
    public async Task Case05_refresh_updates_the_expiry_in_beijing_time_and_tells_the_tenant(string scene, string orderId)
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODDAYTRIAL");
        await market.DrainAsync();

        var reply = await market.CallAsync("refreshInstance", new { instanceId = id, orderId, orderLineId = orderId + "-000001", scene, productId = "OFFI-FORMAL", expireTime = "20271231235959", testFlag = "1" });
        await market.DrainAsync();

        Assert.Equal("000000", reply.ResultCode);
        var instance = (await market.InstanceAsync(id))!;
        Assert.Equal("20271231235959", instance.ExpireTime);
        Assert.Equal(new DateTimeOffset(2027, 12, 31, 23, 59, 59, TimeSpan.FromHours(8)), instance.ExpiresAt);
        Assert.Equal("OFFI-FORMAL", instance.ProductId);
        Assert.Empty(instance.PendingWork);
        var tenant = await market.App.Services.GetRequiredService<BuiltInTenantProvisioner>().FindAsync(id, CancellationToken.None);
        Assert.Equal(instance.ExpiresAt, tenant!.ExpiresAt);
    }

    [Fact]
    public async Task Case06_freeze_then_unfreeze_and_freeze_twice_all_succeed_and_reach_the_tenant()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        var tenants = market.App.Services.GetRequiredService<BuiltInTenantProvisioner>();

        var freeze = await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "FREEZE", testFlag = "1" });
        await market.DrainAsync();
        Assert.Equal(TenantStatus.Suspended, (await tenants.FindAsync(id, CancellationToken.None))!.Status);
        var unfreeze = await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "UNFREEZE", testFlag = "1" });
        await market.DrainAsync();
        Assert.Equal(TenantStatus.Active, (await tenants.FindAsync(id, CancellationToken.None))!.Status);
        var again1 = await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "FREEZE", testFlag = "1" });
        var again2 = await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "FREEZE", testFlag = "1" });
        await market.DrainAsync();

        Assert.Equal(["000000", "000000", "000000", "000000"], new[] { freeze, unfreeze, again1, again2 }.Select(r => r.ResultCode));
        Assert.Equal(nameof(InstanceState.Frozen), (await market.InstanceAsync(id))!.State);
        Assert.Equal(TenantStatus.Suspended, (await tenants.FindAsync(id, CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task Case07_release_twice_succeeds_and_an_unknown_id_is_000003()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKONETIMENEW");
        await market.DrainAsync();

        var first = await market.CallAsync("releaseInstance", new { instanceId = id, orderId = "MOCKMONTYUNSUBSCRIBE", orderLineId = "MOCKMONTYUNSUBSCRIBE-000001", testFlag = "1" });
        await market.DrainAsync();
        var second = await market.CallAsync("releaseInstance", new { instanceId = id, testFlag = "1" });
        var unknown = await market.CallAsync("releaseInstance", new { instanceId = "no-such-instance", testFlag = "1" });

        Assert.Equal(("000000", "000000", "000003"), (first.ResultCode, second.ResultCode, unknown.ResultCode));
        Assert.Equal(nameof(InstanceState.Released), (await market.InstanceAsync(id))!.State);
        Assert.Equal(TenantStatus.Released, (await market.App.Services.GetRequiredService<BuiltInTenantProvisioner>().FindAsync(id, CancellationToken.None))!.Status);
    }

    [Fact]
    public async Task Case08_upgrade_with_the_change_mock_order_replayed_is_applied_once()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();

        var upgrade = new { instanceId = id, orderId = "MOCKMONTYCHANGE", orderLineId = "MOCKMONTYCHANGE-000001", testFlag = "1" };
        var first = await market.CallAsync("upgradeInstance", upgrade);
        var replay = await market.CallAsync("upgradeInstance", upgrade);
        await market.DrainAsync();

        Assert.Equal(("000000", "000000"), (first.ResultCode, replay.ResultCode));
        Assert.Contains("already applied", replay.ResultMsg, StringComparison.Ordinal);

        // A debug upgrade names no new spec and KooGallery's order API is not asked for debug calls.
        Assert.Equal(0, market.OpenApi.RequestCount);
        var events = await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(id, CancellationToken.None);
        Assert.Single(events, e => e.Kind == "worker-succeeded" && e.Detail!.StartsWith("upgrade:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Case09_change_check_allows_an_upgrade_and_refuses_a_downgrade()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW"); // linear value 10
        await market.DrainAsync();

        var up = await market.CallAsync("changeInstanceCheck", new { instanceId = id, productInfo = new { productId = "OFFI-BIG", skuCode = "sku", linearValue = 50 }, testFlag = "1" });
        var down = await market.CallAsync("changeInstanceCheck", new { instanceId = id, productInfo = new { productId = "OFFI-SMALL", skuCode = "sku", linearValue = 2 }, testFlag = "1" });
        var unknown = await market.CallAsync("changeInstanceCheck", new { instanceId = "nope", productInfo = new { productId = "P" } });

        Assert.Equal("000000", up.ResultCode);
        Assert.NotEqual("000000", down.ResultCode);
        Assert.Contains("change refused", down.ResultMsg, StringComparison.Ordinal);
        Assert.Equal("000003", unknown.ResultCode);
    }

    [Fact]
    public async Task Case10_tampered_wrong_key_stale_missing_nonce_and_replayed_nonce_are_refused()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var app = market.App;
        const string body = """{"activity":"queryInstance","instanceId":"x","testFlag":"1"}""";
        var now = app.Clock.GetUtcNow();
        var signed = V2RequestSignature.Sign(TestApp.Key, body, now);

        var tampered = await SignedCall.SendAsync(app, SignedCall.Raw(System.Text.Encoding.UTF8.GetBytes(body.Replace("\"x\"", "\"y\"", StringComparison.Ordinal)), signed.ToQueryString()));
        var wrongKey = await SignedCall.SendSignedAsync(app, body, key: "wrong-key");
        var stale = await SignedCall.SendSignedAsync(app, body, at: now.AddSeconds(-61));
        var noNonce = await SignedCall.SendAsync(app, SignedCall.Raw(System.Text.Encoding.UTF8.GetBytes(body), $"?signature={signed.Signature}&timestamp={signed.Timestamp}"));
        var nonce = Nonce.New();
        await SignedCall.SendSignedAsync(app, body, nonce: nonce);
        var replay = await SignedCall.SendSignedAsync(app, body.Replace("\"x\"", "\"z\"", StringComparison.Ordinal), nonce: nonce);

        Assert.Equal(["000001", "000001", "000002", "000002", "000001"], new[] { tampered, wrongKey, stale, noNonce, replay }.Select(r => r.ResultCode));
    }

    [Fact]
    public async Task Case10b_an_exact_resend_within_the_window_gets_the_same_answer()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        var body = $$"""{"activity":"queryInstance","instanceId":"{{id}}","testFlag":"1"}""";
        var nonce = Nonce.New();
        var at = market.App.Clock.GetUtcNow();

        var first = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);
        var resend = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);

        Assert.Equal("000000", first.ResultCode);
        Assert.Equal(first.Text, resend.Text);
    }

    [Fact]
    public async Task Case11_an_unknown_activity_is_000002()
    {
        await using var market = await LocalMarketplace.StartAsync();

        var reply = await market.CallAsync("deleteEverything", new { testFlag = "1" });

        Assert.Equal("000002", reply.ResultCode);
    }
}
