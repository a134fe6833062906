using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Azure.Storage.Queues;
using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Metering;
using KooGallery.Functions.Operations;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using static KooGallery.Functions.Tests.Infrastructure.UsagePosts;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Flex Consumption runs as many copies of the app as it likes on one storage account, and every timer and queue
/// trigger runs on each. Three real hosts from <see cref="KooGalleryApp"/> share one Azurite (same tables, same
/// queues, same clock) and one KooGallery: callbacks spread over all three (the same order to two at once),
/// queue messages taken by whichever asks first, usage taken by any and pushed by all three at once, the sweeper,
/// retention, nonce purge and counters firing on all three together.
/// </summary>
public class ManyInstancesTests
{
    private const int Orders = 12;
    private const int MeteredInstances = 3;

    private sealed class Fleet(IReadOnlyList<TestApp> apps, OpenApiEmulator openApi, FakeTenantApi tenantApi) : IAsyncDisposable
    {
        private int calls;

        public IReadOnlyList<TestApp> Apps { get; } = apps;

        public OpenApiEmulator OpenApi { get; } = openApi;

        public FakeTenantApi TenantApi { get; } = tenantApi;

        public int Calls => Volatile.Read(ref calls);

        public TestApp this[int i] => Apps[i % Apps.Count];

        public Task<CallbackReply> CallAsync(int app, string activity, object fields)
        {
            Interlocked.Increment(ref calls);
            var body = new SortedDictionary<string, object?>(StringComparer.Ordinal) { ["activity"] = activity };
            foreach (var property in JsonSerializer.SerializeToElement(fields).EnumerateObject())
            {
                body[property.Name] = property.Value;
            }

            return SignedCall.SendSignedAsync(this[app], JsonSerializer.Serialize(body));
        }

        /// <summary>Each host takes lifecycle messages from the one queue as its trigger would, until stopped.</summary>
        public async Task WorkAsync(CancellationToken stop)
        {
            await Task.WhenAll(Apps.Select(app => Task.Run(async () =>
            {
                var queue = app.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(app.Settings["KooGalleryLifecycleQueue"]);
                while (!stop.IsCancellationRequested)
                {
                    var messages = (await queue.ReceiveMessagesAsync(8, TimeSpan.FromSeconds(30))).Value;
                    foreach (var message in messages)
                    {
                        try
                        {
                            await app.Function<ProcessLifecycleWork>().Run(message, CancellationToken.None);
                            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                        }
                        catch (Exception) when (!stop.IsCancellationRequested)
                        {
                            await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero);
                        }
                    }

                    if (messages.Length == 0)
                    {
                        await Task.Delay(20, CancellationToken.None);
                    }
                }
            }, CancellationToken.None)));
        }

        /// <summary>Runs one timer function on all three hosts at the same moment.</summary>
        public Task AllAtOnce<T>(Func<T, Task> run) where T : class => Task.WhenAll(Apps.Select(app => Task.Run(() => run(app.Function<T>()))));

        public async ValueTask DisposeAsync()
        {
            foreach (var app in Apps)
            {
                await app.DisposeAsync();
            }

            await OpenApi.DisposeAsync();
            await TenantApi.DisposeAsync();
        }
    }

    private static async Task<Fleet> StartAsync()
    {
        var clock = TestApp.NewClock();
        var openApi = await OpenApiEmulator.StartAsync(new OpenApiEmulatorOptions { UsagePushKeys = [TestApp.Key], Time = clock });
        var tenantApi = await FakeTenantApi.StartAsync(LocalMarketplace.TenantSecret);
        var run = Guid.NewGuid().ToString("N")[..10];
        void Shared(Dictionary<string, string?> s)
        {
            foreach (var table in new[] { "Nonce", "Tenant", "Instance", "Usage", "Schedule", "License", "Joint", "Operations" })
            {
                s[$"Storage:{table}Table"] = $"{table}{run}";
            }

            foreach (var (setting, name) in new[] { ("KooGalleryLifecycleQueue", "lifecycle"), ("KooGalleryUsageQueue", "usage"), ("KooGalleryLicenseQueue", "licenses"), ("KooGalleryKitQueue", "kit") })
            {
                s[setting] = $"{name}-{run}";
            }

            s["Marketplace:BaseUrl"] = openApi.BaseUrl.ToString();
            s["Marketplace:AccessKey"] = "emulator-access-key";
            s["Marketplace:SecretKey"] = "emulator-secret-key-change-me";
            s["Provisioning:Mode"] = "Webhook";
            s["Provisioning:Webhook:BaseUrl"] = tenantApi.BaseUrl.ToString();
            s["Provisioning:Webhook:Secret"] = LocalMarketplace.TenantSecret;
        }

        var apps = new List<TestApp>();
        for (var i = 0; i < 3; i++)
        {
            apps.Add(await TestApp.StartAsync(Shared, clock: clock, createStorage: i == 0));
        }

        return new Fleet(apps, openApi, tenantApi);
    }

    [Fact]
    public async Task Three_hosts_on_one_storage_apply_every_order_change_and_usage_row_exactly_once()
    {
        await using var fleet = await StartAsync();
        using var stop = new CancellationTokenSource();
        var workers = fleet.WorkAsync(stop.Token);

        // The same order line to two hosts at once (a KooGallery retry racing the first call): one instance.
        var created = await Task.WhenAll(Enumerable.Range(0, Orders).SelectMany(i => new[] { i, i + 1 }.Select(async app =>
        {
            var reply = await fleet.CallAsync(app, "newInstance", new { businessId = Guid.NewGuid().ToString(), orderId = $"CS-FLEET-{i}", orderLineId = $"CS-FLEET-{i}-1", testFlag = "0" });
            Assert.True(reply.ResultCode == "000000", reply.Text);
            return (Order: i, Id: JsonDocument.Parse(reply.Body).RootElement.GetProperty("instanceId").GetString()!);
        })));
        var ids = created.GroupBy(c => c.Order).Select(g => Assert.Single(g.Select(c => c.Id).Distinct())).ToList();
        var metered = await Task.WhenAll(Enumerable.Range(0, MeteredInstances).Select(async p =>
        {
            var reply = await fleet.CallAsync(p, "newInstance", new { businessId = Guid.NewGuid().ToString(), orderId = "MOCKONDEMAND", orderLineId = "MOCKONDEMAND-000001", productId = $"OFFI-FLEET-{p}", testFlag = "0" });
            return JsonDocument.Parse(reply.Body).RootElement.GetProperty("instanceId").GetString()!;
        }));
        await WaitAsync(fleet, ids.Concat(metered), InstanceState.Ready);

        // Every instance's changes in order, each to another host; instances in parallel.
        var expiries = new[] { "20280101000000", "20290101000000" };
        await Task.WhenAll(ids.Select(async (id, n) =>
        {
            var steps = new (string Activity, object Fields)[]
            {
                ("refreshInstance", new { instanceId = id, orderId = $"CS-RENEW-{n}-1", orderLineId = $"CS-RENEW-{n}-1-1", scene = "RENEWAL", expireTime = expiries[0], testFlag = "0" }),
                ("updateInstanceStatus", new { instanceId = id, status = "FREEZE", testFlag = "0" }),
                ("updateInstanceStatus", new { instanceId = id, status = "UNFREEZE", testFlag = "0" }),
                ("refreshInstance", new { instanceId = id, orderId = $"CS-RENEW-{n}-2", orderLineId = $"CS-RENEW-{n}-2-1", scene = "RENEWAL", expireTime = expiries[1], testFlag = "0" }),
            };
            for (var s = 0; s < steps.Length; s++)
            {
                var reply = await fleet.CallAsync(n + s, steps[s].Activity, steps[s].Fields);
                Assert.True(reply.ResultCode == "000000", $"{steps[s].Activity}: {reply.Text}");
            }
        }));

        // Settled before the clock moves: the fake tenant API checks webhook signatures against the real clock.
        await WaitAsync(fleet, ids, InstanceState.Ready, settled: true);

        // Usage taken by any host (some batches sent twice, to two hosts), for hours already over.
        var hour = UsagePeriods.HourOf(fleet[0].Clock.GetUtcNow()).AddHours(-3);
        var accepted = new ConcurrentDictionary<string, decimal>(StringComparer.Ordinal);
        await Task.WhenAll(Enumerable.Range(0, 30).Select(async r =>
        {
            var id = metered[r % MeteredInstances];
            var record = Record(id, hour.AddMinutes(r % 6 * 10), r + 1, $"rec-{r}");
            foreach (var app in r % 4 == 0 ? new[] { r, r + 1 } : new[] { r })
            {
                var (status, body) = await PostAsync(fleet[app], record);
                Assert.True(status == 200, body.ToString());
                if (Statuses(body)[0] == "accepted")
                {
                    accepted.AddOrUpdate(id, r + 1, (_, v) => v + r + 1);
                }
            }
        }));

        // Every timer on all three at once, twice, with time moving on as it does between runs.
        for (var round = 0; round < 2; round++)
        {
            fleet[0].Clock.Advance(TimeSpan.FromMinutes(10));
            await Task.WhenAll(
                fleet.AllAtOnce<UsagePush>(f => f.Run(new TimerInfo(), CancellationToken.None)),
                fleet.AllAtOnce<SweepPendingLifecycleWork>(f => f.Run(new TimerInfo(), CancellationToken.None)),
                fleet.AllAtOnce<PurgeExpiredData>(f => f.Run(new TimerInfo(), CancellationToken.None)),
                fleet.AllAtOnce<NoncePurge>(f => f.Run(new TimerInfo(), CancellationToken.None)),
                fleet.AllAtOnce<CallbackCountersFlush>(f => f.Run(new TimerInfo(), CancellationToken.None)));
        }

        // A failure KooGallery counts, sent to all three hosts at once for each of three orders: three failed orders.
        await Task.WhenAll(Enumerable.Range(0, 3).SelectMany(k => Enumerable.Range(0, 3).Select(app =>
            fleet.CallAsync(app, "refreshInstance", new { instanceId = $"kg-gone-{k}", orderId = $"CS-FAILED-{k}", orderLineId = $"CS-FAILED-{k}-1", scene = "RENEWAL", expireTime = expiries[0], testFlag = "0" }))));
        await WaitAsync(fleet, ids, InstanceState.Ready, settled: true);
        await stop.CancelAsync();
        await workers;
        await fleet.AllAtOnce<CallbackCountersFlush>(f => f.Run(new TimerInfo(), CancellationToken.None));
        await fleet.AllAtOnce<InstanceStateCountsFlush>(f => f.Run(new TimerInfo(), CancellationToken.None));

        // One instance per order line, each provisioned once at the tenant API, every change applied once and in order.
        var repository = fleet[0].Services.GetRequiredService<InstanceRepository>();
        foreach (var id in ids)
        {
            var instance = (await repository.GetAsync(id, CancellationToken.None))!;
            Assert.Equal((nameof(InstanceState.Ready), expiries[1]), (instance.State, instance.ExpireTime));
            var applied = (await repository.EventsAsync(id, CancellationToken.None))
                .Where(e => e.Kind == "change-applied").OrderBy(e => e.RowKey, StringComparer.Ordinal).Select(e => e.Activity).ToList();
            Assert.Equal(["refreshInstance", "updateInstanceStatus", "updateInstanceStatus", "refreshInstance"], applied);
        }

        var provisions = fleet.TenantApi.Events.Where(e => e.Event == "provision").GroupBy(e => e.Body["instanceId"]!.GetValue<string>()).ToList();
        Assert.Equal(ids.Concat(metered).Order(StringComparer.Ordinal), provisions.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.All(provisions, p => Assert.Single(p.Select(e => e.IdempotencyKey).Distinct()));

        // Every usage row pushed exactly once, and KooGallery kept exactly what was accepted.
        var pushed = fleet.OpenApi.UsagePushes.SelectMany(p => p.Records).ToList();
        Assert.Equal(MeteredInstances, accepted.Count(a => a.Value > 0));
        Assert.NotEmpty(pushed);
        Assert.All(pushed.GroupBy(r => r["metering_sn"]!.GetValue<string>()), g => Assert.Single(g));
        foreach (var id in metered)
        {
            var kept = fleet.OpenApi.KeptUsage().Values.Where(r => r["instance_id"]!.GetValue<string>() == id)
                .Sum(r => decimal.Parse(r["usage_value"]!.GetValue<string>(), CultureInfo.InvariantCulture));
            Assert.Equal(accepted.GetValueOrDefault(id), kept);
        }

        // Instances per state, as the three hosts counted them, equal what the instance rows say.
        var truth = await repository.CountByStateAsync(CancellationToken.None);
        Assert.Equal(truth.Select(t => (t.Key, t.Value)), (await fleet[0].Services.GetRequiredService<InstanceStateCounts>().ReadAsync(CancellationToken.None)).Select(t => (t.Key, t.Value)));

        // Counters: every callback counted once over the three hosts; the failed orders: three, once each.
        var now = fleet[0].Clock.GetUtcNow();
        var counted = await fleet[0].Services.GetRequiredService<CallbackCounters>().HoursAsync(now.AddHours(-2), now, CancellationToken.None);
        Assert.Equal(fleet.Calls, counted.Values.SelectMany(h => h.Values).Sum());
        var ledger = fleet[0].Services.GetRequiredService<FailedOrderLedger>();
        var month = await ledger.MonthAsync(ledger.MonthOf(now), CancellationToken.None);
        Assert.Equal(["CS-FAILED-0", "CS-FAILED-1", "CS-FAILED-2"], month.Orders.Select(o => o.OrderId).Order(StringComparer.Ordinal));
        Assert.Equal(3, month.Count);
    }

    /// <summary>Until every instance is in <paramref name="state"/> (and, when <paramref name="settled"/>, has no work pending).</summary>
    private static async Task WaitAsync(Fleet fleet, IEnumerable<string> ids, InstanceState state, bool settled = false)
    {
        var repository = fleet[0].Services.GetRequiredService<InstanceRepository>();
        var all = ids.ToList();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var instances = await Task.WhenAll(all.Select(id => repository.GetAsync(id, CancellationToken.None)));
            var changes = settled ? await Task.WhenAll(all.Select(id => repository.ChangesAsync(id, CancellationToken.None))) : [];
            if (instances.All(i => i?.CurrentState == state && (!settled || i.Pending.Count == 0)) && changes.All(c => c.Count == 0))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "not settled: " + string.Join(", ", instances.Select(i => $"{i?.InstanceId} {i?.State} [{i?.PendingWork}] {i?.FailureReason}")));
            await Task.Delay(100);
        }
    }
}
