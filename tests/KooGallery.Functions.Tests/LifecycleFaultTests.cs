using System.Text.Json;
using Azure.Data.Tables;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

/// <summary>
/// The life cycle the way production fails: outages of KooGallery's API and the tenant API become waiting
/// (retries on the app's own schedule), no change KooGallery sends is dropped, debug calls never need the
/// order API, and only a permanent failure or the end of the give-up window needs an operator.
/// </summary>
public class LifecycleFaultTests
{
    private static readonly TimeSpan Outage = TimeSpan.FromMinutes(10);

    /// <summary>Short per-attempt timeouts and a breaker that closes again quickly, so an outage of app-clock hours runs in seconds.</summary>
    private static void FastOutbound(Dictionary<string, string?> s)
    {
        s["OutboundHttp:AttemptTimeout"] = "00:00:00.300";
        s["OutboundHttp:BreakerDuration"] = "00:00:00.100";
    }

    private static JsonElement Json(CallbackReply reply) => JsonDocument.Parse(reply.Body).RootElement;

    [Fact]
    public async Task Ten_minutes_of_503s_and_timeouts_from_the_order_api_are_a_wait_and_the_instance_ends_ready()
    {
        await using var market = await LocalMarketplace.StartAsync(FastOutbound);
        market.OpenApi.Faults.OutageUntil(market.App.Clock, market.App.Clock.GetUtcNow() + Outage, new Fault.ServerError(503), new Fault.Slow(TimeSpan.FromSeconds(1)));
        var id = await market.NewInstanceAsync("CS-OUTAGE", test: false);
        var answers = new List<string>();

        await market.DrainAsync(betweenRounds: async () =>
        {
            var state = (await market.InstanceAsync(id))!.State;
            Assert.NotEqual(nameof(InstanceState.Failed), state);
            if (state == nameof(InstanceState.Provisioning))
            {
                answers.Add((await market.CallAsync("queryInstance", new { instanceId = id })).ResultCode);
            }
        });

        var instance = (await market.InstanceAsync(id))!;
        Assert.Equal(nameof(InstanceState.Ready), instance.State);
        Assert.True(market.OpenApi.Faults.OutageRequests >= 4, $"the outage failed only {market.OpenApi.Faults.OutageRequests} requests");
        Assert.NotEmpty(answers);
        Assert.All(answers, code => Assert.Equal("000004", code));
        Assert.Equal("000000", (await market.CallAsync("queryInstance", new { instanceId = id })).ResultCode);

        // Back-off on the app's own schedule: doubling from 30 s, with jitter, across the outage.
        Assert.True(market.Sender.Delays.Count >= 3, string.Join(", ", market.Sender.Delays));
        Assert.InRange(market.Sender.Delays[0], TimeSpan.FromSeconds(24), TimeSpan.FromSeconds(36));
        Assert.InRange(market.Sender.Delays[2], TimeSpan.FromSeconds(96), TimeSpan.FromSeconds(144));
        Assert.Equal((0, null, null), (instance.WorkerAttempts, instance.NextAttemptAt, instance.LastError));
        var events = await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(id, CancellationToken.None);
        Assert.Contains(events, e => e.Kind == "worker-failed" && e.Detail!.Contains("next attempt at", StringComparison.Ordinal));
        Assert.DoesNotContain(events, e => e.Kind == "gave-up");
    }

    [Theory]
    [InlineData("{\"resultCode\":\"920200")]
    [InlineData("<html><body>502 Bad Gateway</body></html>")]
    [InlineData("{\"resultMsg\":\"no code\"}")]
    [InlineData("{\"resultCode\":\"92020000\",\"resultMsg\":\"success\"}")]
    public async Task A_malformed_http_200_from_the_order_api_is_retried_like_a_5xx(string body)
    {
        await using var market = await LocalMarketplace.StartAsync(FastOutbound);
        market.OpenApi.Faults.Enqueue(new Fault.Malformed(body), times: 2);
        var id = await market.NewInstanceAsync("CS-MALFORMED", test: false);

        await market.DrainAsync();

        var instance = (await market.InstanceAsync(id))!;
        Assert.Equal(nameof(InstanceState.Ready), instance.State);
        var events = await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(id, CancellationToken.None);
        Assert.Contains(events, e => e.Kind == "worker-failed" && e.Detail!.Contains("no usable KooGallery answer", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("<html><body>502 Bad Gateway</body></html>")]
    [InlineData("{\"frontEndUrl\":\"https://trunc")]
    public async Task A_malformed_http_200_from_the_tenant_api_is_retried_like_a_5xx(string body)
    {
        await using var market = await LocalMarketplace.StartAsync(FastOutbound, webhookTenants: true);
        market.TenantApi!.Faults.Enqueue(new Fault.Malformed(body), times: 2);
        var id = await market.NewInstanceAsync("CS-TENANT-MALFORMED", test: false);

        await market.DrainAsync();

        Assert.Equal(nameof(InstanceState.Ready), (await market.InstanceAsync(id))!.State);
        var events = await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(id, CancellationToken.None);
        Assert.Contains(events, e => e.Kind == "worker-failed" && e.Detail!.Contains("not the expected JSON", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bulk_redrive_goes_on_past_an_instance_that_cannot_be_redriven_and_reports_it()
    {
        var outage = new StorageOutage();
        await using var market = await LocalMarketplace.StartAsync(
            s =>
            {
                FastOutbound(s);
                s["Lifecycle:GiveUpAfter"] = "01:00:00";
            },
            services: outage.FailIn);
        market.OpenApi.Faults.OutageUntil(market.App.Clock, market.App.Clock.GetUtcNow() + TimeSpan.FromHours(3), new Fault.ServerError(503));
        var ids = new[] { await market.NewInstanceAsync("CS-BULK-1", test: false), await market.NewInstanceAsync("CS-BULK-2", test: false) };
        await market.DrainAsync();
        market.OpenApi.Faults.Clear();

        outage.Arm(m => m.Request.Uri.ToUri().ToString().Contains(ids[0], StringComparison.Ordinal)); // its partition is unreachable
        var results = await market.App.Services.GetRequiredService<InstanceLifecycle>().RedriveFailedAsync(null, null, null, dryRun: false, "test operator", CancellationToken.None);
        outage.Disarm();

        Assert.Equal(2, results.Count);
        var stuck = results.Single(r => r.Instance.InstanceId == ids[0]);
        Assert.False(stuck.Redriven);
        Assert.Contains("re-drive failed", stuck.Message, StringComparison.Ordinal);
        Assert.True(results.Single(r => r.Instance.InstanceId == ids[1]).Redriven);
    }

    [Fact]
    public async Task Failing_past_the_give_up_window_fails_the_instance_and_bulk_redrive_recovers_every_one()
    {
        await using var market = await LocalMarketplace.StartAsync(s =>
        {
            FastOutbound(s);
            s["Lifecycle:GiveUpAfter"] = "01:00:00";
        });
        market.OpenApi.Faults.OutageUntil(market.App.Clock, market.App.Clock.GetUtcNow() + TimeSpan.FromHours(3), new Fault.ServerError(503));
        var ids = new[] { await market.NewInstanceAsync("CS-LONG-1", test: false), await market.NewInstanceAsync("CS-LONG-2", test: false) };

        await market.DrainAsync();

        foreach (var id in ids)
        {
            var failed = (await market.InstanceAsync(id))!;
            Assert.Equal((nameof(InstanceState.Failed), WorkKinds.Provision), (failed.State, failed.FailedWork));
            Assert.Contains("Lifecycle__GiveUpAfter", failed.FailureReason, StringComparison.Ordinal);
            Assert.Equal("000005", (await market.CallAsync("queryInstance", new { instanceId = id })).ResultCode);
        }

        // Changes KooGallery sends meanwhile are kept, not refused.
        var renew = await market.CallAsync("refreshInstance", new { instanceId = ids[0], orderId = "CS-LONG-RENEW", orderLineId = "CS-LONG-RENEW-1", scene = "RENEWAL", expireTime = "20301231235959" });
        var freeze = await market.CallAsync("updateInstanceStatus", new { instanceId = ids[0], status = "FREEZE" });
        Assert.Equal(("000000", "000000"), (renew.ResultCode, freeze.ResultCode));
        await market.DrainAsync();

        market.OpenApi.Faults.Clear();
        var admin = market.App.Function<InstanceAdmin>();
        var dryRun = await admin.RedriveAll(Request("?error=query%20order&dryRun=true"), CancellationToken.None);
        Assert.Contains("\"matched\":2", JsonSerializer.Serialize(((OkObjectResult)dryRun).Value), StringComparison.Ordinal);
        Assert.Equal(nameof(InstanceState.Failed), (await market.InstanceAsync(ids[0]))!.State);
        var none = await admin.RedriveAll(Request("?error=certificate"), CancellationToken.None);
        Assert.Contains("\"matched\":0", JsonSerializer.Serialize(((OkObjectResult)none).Value), StringComparison.Ordinal);
        var badTime = await admin.RedriveAll(Request("?failedAfter=yesterday"), CancellationToken.None);
        Assert.IsType<BadRequestObjectResult>(badTime);

        var all = await admin.RedriveAll(Request($"?failedAfter={Uri.EscapeDataString(market.App.Clock.GetUtcNow().AddDays(-2).ToString("O"))}&error=QUERY%20ORDER"), CancellationToken.None);
        Assert.Contains("\"matched\":2", JsonSerializer.Serialize(((OkObjectResult)all).Value), StringComparison.Ordinal);
        await market.DrainAsync();

        var renewed = (await market.InstanceAsync(ids[0]))!;
        Assert.Equal((nameof(InstanceState.Frozen), "20301231235959"), (renewed.State, renewed.ExpireTime));
        Assert.Equal(nameof(InstanceState.Ready), (await market.InstanceAsync(ids[1]))!.State);
        var tenant = await market.App.Services.GetRequiredService<BuiltInTenantProvisioner>().FindAsync(ids[0], CancellationToken.None);
        Assert.Equal(TenantStatus.Suspended, tenant!.Status);
    }

    [Fact]
    public async Task A_debug_new_instance_for_an_order_the_api_does_not_know_is_provisioned_without_asking_it()
    {
        await using var market = await LocalMarketplace.StartAsync(openApiOptions: new OpenApiEmulatorOptions { Strict = true, UsagePushKeys = [TestApp.Key] });
        market.OpenApi.Faults.OutageUntil(market.App.Clock, market.App.Clock.GetUtcNow() + TimeSpan.FromDays(1), new Fault.ServerError(503));
        var id = await market.NewInstanceAsync("DIAL-TEST-UNKNOWN-ORDER", test: true);
        var onDemand = await market.NewInstanceAsync("MOCKONDEMAND", test: true, productId: "P-1");

        await market.DrainAsync();

        var query = await market.CallAsync("queryInstance", new { instanceId = $"{id},{onDemand}", testFlag = "1" });
        Assert.Equal("000000", query.ResultCode);
        Assert.Equal(2, Json(query).GetProperty("info").GetArrayLength());
        Assert.Equal(0, market.OpenApi.RequestCount);
        Assert.Equal(("PERIOD", "ON_DEMAND"), ((await market.InstanceAsync(id))!.ChargingMode, (await market.InstanceAsync(onDemand))!.ChargingMode));
    }

    [Fact]
    public async Task Freeze_renewal_and_upgrade_during_provisioning_are_applied_once_the_tenant_exists()
    {
        await using var market = await LocalMarketplace.StartAsync(webhookTenants: true);
        var id = await market.NewInstanceAsync("CS-EARLY", test: false);

        var renew = await market.CallAsync("refreshInstance", new { instanceId = id, orderId = "CS-EARLY-R", orderLineId = "CS-EARLY-R-1", scene = "RENEWAL", expireTime = "20291231235959" });
        var upgrade = await market.CallAsync("upgradeInstance", new { instanceId = id, orderId = "MOCKMONTYCHANGE", orderLineId = "MOCKMONTYCHANGE-000001" });
        var freeze = await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "FREEZE" });
        Assert.Equal(["000000", "000000", "000000"], new[] { renew, upgrade, freeze }.Select(r => r.ResultCode));
        Assert.Equal(nameof(InstanceState.Provisioning), (await market.InstanceAsync(id))!.State);

        await market.DrainAsync();

        var instance = (await market.InstanceAsync(id))!;
        Assert.Equal((nameof(InstanceState.Frozen), "20291231235959", 20d), (instance.State, instance.ExpireTime, instance.LinearValue));
        Assert.Empty(instance.PendingWork);
        var events = market.TenantApi!.Events.Select(e => e.Event).ToList();
        Assert.Equal("provision", events[0]);
        Assert.Equal(["provision", "suspend", "update-expiry", "upgrade"], events.Order(StringComparer.Ordinal));
        Assert.Equal("000000", (await market.CallAsync("queryInstance", new { instanceId = id })).ResultCode);
    }

    [Fact]
    public async Task Fifty_concurrent_renewals_and_status_changes_to_one_instance_are_all_recorded_and_applied()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();

        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => i % 5 == 0
            ? market.CallAsync("updateInstanceStatus", new { instanceId = id, status = i % 10 == 0 ? "FREEZE" : "UNFREEZE", testFlag = "1" })
            : market.CallAsync("refreshInstance", new { instanceId = id, orderId = $"CS-STORM-{i:D2}", orderLineId = $"CS-STORM-{i:D2}-1", scene = "RENEWAL", expireTime = $"2030{(i % 12) + 1:D2}01000000", testFlag = "1" })));
        Assert.All(replies, r => Assert.Equal("000000", r.ResultCode));

        await market.DrainAsync();

        var events = await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(id, CancellationToken.None);
        Assert.Equal(40, events.Count(e => e.Kind == "change-applied" && e.Activity == "refreshInstance"));
        Assert.Equal(10, events.Count(e => e.Kind == "change-applied" && e.Activity == "updateInstanceStatus"));
        var instance = (await market.InstanceAsync(id))!;
        Assert.Empty(instance.PendingWork);
        Assert.Empty(await market.App.Services.GetRequiredService<InstanceRepository>().ChangesAsync(id, CancellationToken.None));

        // The tenant matches the last status change applied.
        var lastStatus = events.Last(e => e.Kind == "change-applied" && e.Activity == "updateInstanceStatus");
        var tenant = await market.App.Services.GetRequiredService<BuiltInTenantProvisioner>().FindAsync(id, CancellationToken.None);
        Assert.Equal(lastStatus.Detail!.StartsWith("FREEZE", StringComparison.Ordinal) ? TenantStatus.Suspended : TenantStatus.Active, tenant!.Status);
    }

    [Fact]
    public async Task A_stale_poisoned_message_is_dropped_and_a_release_under_way_is_still_done()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        await market.CallAsync("releaseInstance", new { instanceId = id, testFlag = "1" });
        var worker = market.App.Services.GetRequiredService<LifecycleWorker>();
        await worker.ApplyChangesAsync(id, CancellationToken.None);
        Assert.Equal(nameof(InstanceState.Releasing), (await market.InstanceAsync(id))!.State);

        // A status message from before the release gave up in the queue.
        await worker.HandlePoisonedAsync(new LifecycleWork(id, WorkKinds.Status), CancellationToken.None);

        Assert.Equal(nameof(InstanceState.Releasing), (await market.InstanceAsync(id))!.State);
        await market.DrainAsync();
        Assert.Equal(nameof(InstanceState.Released), (await market.InstanceAsync(id))!.State);
    }

    [Fact]
    public async Task A_poisoned_message_for_work_still_pending_becomes_a_scheduled_retry_not_a_failure()
    {
        await using var market = await LocalMarketplace.StartAsync();
        await market.WorkQueue.DeleteAsync(); // the new instance's message is lost; its work stays pending
        var id = await market.NewInstanceAsync("CS-POISON", test: false);
        await market.WorkQueue.CreateAsync();

        await market.App.Services.GetRequiredService<LifecycleWorker>().HandlePoisonedAsync(new LifecycleWork(id, WorkKinds.Provision), CancellationToken.None);

        var waiting = (await market.InstanceAsync(id))!;
        Assert.Equal((nameof(InstanceState.Provisioning), 1), (waiting.State, waiting.WorkerAttempts));
        Assert.NotNull(waiting.NextAttemptAt);
        await market.DrainAsync();
        Assert.Equal(nameof(InstanceState.Ready), (await market.InstanceAsync(id))!.State);
    }

    [Fact]
    public async Task A_retry_message_that_comes_early_is_put_back_and_others_wait_for_it()
    {
        await using var market = await LocalMarketplace.StartAsync(FastOutbound);
        market.OpenApi.Faults.Enqueue(new Fault.ServerError(503), times: 2);
        var id = await market.NewInstanceAsync("CS-EARLY-RETRY", test: false);
        var worker = market.App.Services.GetRequiredService<LifecycleWorker>();

        await worker.ProcessAsync(new LifecycleWork(id, WorkKinds.Provision), 1, CancellationToken.None);
        var backingOff = (await market.InstanceAsync(id))!;
        Assert.Equal(1, backingOff.WorkerAttempts);

        // The wait is not over yet: the retry is due in ten minutes.
        backingOff.NextAttemptAt = market.App.Clock.GetUtcNow().AddMinutes(10);
        await market.App.Services.GetRequiredService<InstanceRepository>().CommitAsync(backingOff, [], null, CancellationToken.None);
        await market.WorkQueue.ClearMessagesAsync();
        var requests = market.OpenApi.RequestCount;

        await worker.ProcessAsync(new LifecycleWork(id, WorkKinds.Provision), 1, CancellationToken.None); // not the scheduled one
        await worker.ProcessAsync(new LifecycleWork(id, WorkKinds.Provision, Retry: 1), 1, CancellationToken.None); // scheduled, early

        Assert.Equal(requests, market.OpenApi.RequestCount);
        Assert.Equal(nameof(InstanceState.Provisioning), (await market.InstanceAsync(id))!.State);
        Assert.Equal(1, await market.QueuedAsync()); // only the scheduled one, put back for the rest of its wait
        await market.DrainAsync();
        Assert.Equal(nameof(InstanceState.Ready), (await market.InstanceAsync(id))!.State);
    }

    [Fact]
    public async Task Unapplied_changes_whose_message_was_lost_are_found_by_the_sweeper()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        await market.WorkQueue.DeleteAsync();
        Assert.Equal("000000", (await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "FREEZE", testFlag = "1" })).ResultCode);
        await market.WorkQueue.CreateAsync();

        var sweeper = market.App.Services.GetRequiredService<LifecycleSweeper>();
        Assert.Equal(0, (await sweeper.SweepAsync(CancellationToken.None)).Requeued);
        market.App.Clock.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(1, (await sweeper.SweepAsync(CancellationToken.None)).Requeued);
        await market.DrainAsync();

        Assert.Equal(nameof(InstanceState.Frozen), (await market.InstanceAsync(id))!.State);
    }

    [Theory]
    [InlineData("/login")]
    [InlineData("http://tenant.example.com/")]
    [InlineData("ftp://tenant.example.com/")]
    [InlineData("file:///etc/passwd")]
    public async Task A_tenant_answer_without_an_absolute_https_front_end_url_is_never_handed_to_the_customer(string frontEndUrl)
    {
        await using var market = await LocalMarketplace.StartAsync(webhookTenants: true);
        market.TenantApi!.ProvisionAnswer = JsonSerializer.Serialize(new { frontEndUrl, userName = "u", password = "p" });
        var id = await market.NewInstanceAsync("CS-BADURL", test: false);

        await market.DrainAsync();

        var instance = (await market.InstanceAsync(id))!;
        Assert.Equal(nameof(InstanceState.Failed), instance.State);
        Assert.Null(instance.FrontEndUrl);
        Assert.Contains("frontEndUrl", instance.FailureReason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("https://tenant.example.com/login", true)]
    [InlineData("http://127.0.0.1:8080/", true)]
    [InlineData("http://localhost/", true)]
    [InlineData("http://[::1]/", true)]
    [InlineData("http://tenant.example.com/", false)]
    [InlineData("/login", false)]
    [InlineData("login", false)]
    [InlineData("", false)]
    public void Customer_urls_are_absolute_https_or_loopback_http(string url, bool acceptable) =>
        Assert.Equal(acceptable, CustomerUrls.IsAcceptable(url));

    [Fact]
    public async Task Initial_passwords_are_encrypted_at_rest_and_decrypted_only_to_answer_query_instance()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();

        var query = await market.CallAsync("queryInstance", new { instanceId = id, testFlag = "1" });
        var password = Json(query).GetProperty("info")[0].GetProperty("appInfo").GetProperty("password").GetString()!;
        Assert.Equal(16, password.Length);

        var tables = market.App.Services.GetRequiredService<TableServiceClient>();
        foreach (var table in new[] { market.App.Settings["Storage:InstanceTable"], market.App.Settings["Storage:TenantTable"] })
        {
            var rows = await tables.GetTableClient(table).QueryAsync<TableEntity>().ToListAsync();
            var stored = JsonSerializer.Serialize(rows.Select(r => r.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString())));
            Assert.DoesNotContain(password, stored, StringComparison.Ordinal);
            Assert.Contains("kgc1:", stored, StringComparison.Ordinal);
        }
    }

    private static HttpRequest Request(string query)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.QueryString = new QueryString(query);
        return context.Request;
    }
}
