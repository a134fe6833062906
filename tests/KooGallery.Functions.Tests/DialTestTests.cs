using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.DialTest;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Licensing;
using KooGallery.Functions.Operations;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.DialTest;
using KooGallery.Protocol.Signing;
using Microsoft.ApplicationInsights.Channel;
using Microsoft.ApplicationInsights.DataContracts;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Tests;

/// <summary>
/// The dial test under the test host against real Azurite: the timer's runner plays the debug cases against
/// the app's production interface (in-process, through <see cref="FunctionAppHandler"/>, or a dead address),
/// and what reaches Application Insights is read from the real telemetry pipeline's channel.
/// </summary>
public class DialTestTests
{
    private const string Address = "https://merchant.example.com/api/koogallery";
    private const string SecondKey = "test-key-second-0123456789";

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    /// <summary>What the telemetry pipeline hands to the channel, i.e. what would reach Application Insights.</summary>
    private sealed class CapturedTelemetry : ITelemetryChannel
    {
        public ConcurrentQueue<ITelemetry> Items { get; } = new();

        public bool? DeveloperMode { get; set; }

        public string EndpointAddress { get; set; } = "http://127.0.0.1:9/";

        public IReadOnlyList<AvailabilityTelemetry> Availability => Items.OfType<AvailabilityTelemetry>().ToList();

        public void Send(ITelemetry item) => Items.Enqueue(item);

        public void Flush()
        {
        }

        public void Dispose()
        {
        }
    }

    private sealed record Dial(LocalMarketplace Market, CapturedTelemetry Telemetry) : IAsyncDisposable
    {
        public DialTestRunner Runner => Market.App.Services.GetRequiredService<DialTestRunner>();

        /// <summary>Storage that is down takes the queue worker down with it: then the run goes without one.</summary>
        public bool QueueWorker { get; set; } = true;

        public async Task<DialTestReport> RunAsync()
        {
            await using var worker = QueueWorker ? Market.RunQueueWorker() : null;
            var report = await Runner.RunAsync(CancellationToken.None);
            Assert.NotNull(report);
            return report;
        }

        public ValueTask DisposeAsync() => Market.DisposeAsync();
    }

    /// <param name="endpoint">What answers at the production address; default: this app, through <paramref name="tamper"/>.</param>
    private static async Task<Dial> StartAsync(
        Func<HttpResponseMessage, Task>? tamper = null,
        Action<Dictionary<string, string?>>? configure = null,
        Func<HttpMessageHandler>? endpoint = null,
        Action<IServiceCollection>? services = null)
    {
        var telemetry = new CapturedTelemetry();
        LocalMarketplace? market = null;
        market = await LocalMarketplace.StartAsync(
            s =>
            {
                s["DialTest:Url"] = Address;
                s["DialTest:PollInterval"] = "00:00:00.100";
                s["DialTest:ReadyTimeout"] = "00:00:30";
                s["DialTest:CleanupWait"] = "00:00:20";
                configure?.Invoke(s);
            },
            webhookTenants: true,
            services: s =>
            {
                s.Replace(ServiceDescriptor.Singleton<ITelemetryChannel>(telemetry));
                s.AddHttpClient(DialTestRunner.HttpClientName).ConfigurePrimaryHttpMessageHandler(() => endpoint?.Invoke() ?? new FunctionAppHandler(market!.App, tamper));
                services?.Invoke(s);
            });
        return new Dial(market, telemetry);
    }

    [Fact]
    public async Task A_healthy_app_passes_every_case_reports_it_everywhere_and_leaves_nothing_behind()
    {
        using var merchantKey = System.Security.Cryptography.RSA.Create(2048);
        await using var dial = await StartAsync(configure: s =>
        {
            s["KooGallery:Keys:1"] = SecondKey;
            s["DialTest:Licence"] = "true";
            s["DialTest:TenantSync"] = "true";
            s["JointOperation:RsaPrivateKey"] = merchantKey.ExportPkcs8PrivateKeyPem();
        });

        var report = await dial.RunAsync();

        Assert.True(report.Passed, report.ToTable());
        Assert.Equal(
            [DialTestRun.NewInstanceCase, DialTestRun.QueryInstanceCase, DialTestRun.RefreshInstanceCase, DialTestRun.FreezeCase, DialTestRun.UnfreezeCase,
             DialTestRun.UpgradeCase, DialTestRun.KeyCase(1), DialTestRun.TenantSyncCase, DialTestRun.ReleaseCase, DialTestRun.LicenceCase],
            report.Cases.Select(c => c.Case));
        Assert.All(report.Cases, c => Assert.True(c.ElapsedMs > 0 && c.Calls > 0, c.Case));
        Assert.Equal("releaseInstance 000000 success.", report.Cases.Single(c => c.Case == DialTestRun.ReleaseCase).LastAnswer);

        // Application Insights: one result for the run and one per case, all successful.
        var run = Assert.Single(dial.Telemetry.Availability, a => a.Name == DialTestAvailability.RunName);
        Assert.True(run.Success);
        Assert.Equal(report.RunId, run.Properties["runId"]);
        Assert.Equal(report.Cases.Count, dial.Telemetry.Availability.Count(a => a.Name.StartsWith(DialTestAvailability.RunName + ": ", StringComparison.Ordinal) && a.Success));

        // Nothing of the dial test's orders is left: no instance, tenant, licence, kit tenant, failed order, clean-up note,
        // and the merchant's tenant API never heard of them.
        var services = dial.Market.App.Services;
        Assert.NotNull(report.InstanceId);
        Assert.Null(await services.GetRequiredService<InstanceRepository>().GetAsync(report.InstanceId!, CancellationToken.None));
        Assert.Empty(await RowsAsync(dial, o => o.InstanceTable, report.InstanceId!));
        Assert.Null(await services.GetRequiredService<BuiltInTenantProvisioner>().FindAsync(report.InstanceId!, CancellationToken.None));
        Assert.Null(await services.GetRequiredService<LicenseRepository>().GetAsync(DialTestOrders.License(report.RunId), CancellationToken.None));
        Assert.Empty(await RowsAsync(dial, o => o.JointTable, JointOperation.KitTenantEntity.PartitionFor(DialTestOrders.TenantId(report.RunId))));
        Assert.Empty(await RowsAsync(dial, o => o.OperationsTable, DialTestStore.CleanupPartition));
        var ledger = services.GetRequiredService<FailedOrderLedger>();
        Assert.Empty((await ledger.MonthAsync(ledger.MonthOf(dial.Market.App.Clock.GetUtcNow()), CancellationToken.None)).Orders);
        Assert.Equal(0, dial.Market.TenantApi!.RequestCount);
        var names = services.GetRequiredService<IOptions<StorageOptions>>().Value;
        Assert.Empty(await services.GetRequiredService<TableServiceClient>().GetTableClient(names.UsageTable).QueryAsync<TableEntity>().ToListAsync());

        // The master-key endpoint and the console's overview show the run, and today in the 7-day strip.
        var results = (OkObjectResult)await dial.Market.App.Function<DialTestFunctions>().Results(SignedCall.Raw([], string.Empty).Request, CancellationToken.None);
        var view = JsonNode.Parse(JsonSerializer.Serialize(results.Value, Web))!;
        Assert.True(view["last"]!["passed"]!.GetValue<bool>());
        Assert.Equal(report.RunId, view["last"]!["runId"]!.GetValue<string>());
        Assert.Equal(report.Cases.Count, view["last"]!["cases"]!.AsArray().Count);
        Assert.Equal(7, view["days"]!.AsArray().Count);
        Assert.Equal(1, view["days"]![6]!["runs"]!.GetValue<int>());

        var overview = JsonNode.Parse(JsonSerializer.Serialize(await services.GetRequiredService<OperatorConsole>().OverviewAsync(CancellationToken.None), Web))!;
        Assert.Equal(report.RunId, overview["dialTest"]!["last"]!["runId"]!.GetValue<string>());

        // Key #1 was proven today: the next run does not dial it again.
        var again = await dial.RunAsync();
        Assert.True(again.Passed, again.ToTable());
        Assert.DoesNotContain(again.Cases, c => c.Case == DialTestRun.KeyCase(1));
    }

    public static TheoryData<string> Faults => ["wrong Key", "proxy alters the body", "storage down", "slower than the budget", "mandatory field missing", "address unreachable"];

    [Theory]
    [MemberData(nameof(Faults))]
    public async Task Each_fault_fails_the_right_case_and_marks_the_availability_result_failed(string fault)
    {
        TestApp? other = null;
        var outage = new StorageOutage();
        Func<HttpResponseMessage, Task>? tamper = null;
        Action<Dictionary<string, string?>>? configure = null;
        Func<HttpMessageHandler>? endpoint = null;
        var expectedCase = DialTestRun.NewInstanceCase;
        string reason;
        switch (fault)
        {
            case "wrong Key":
                // The address answers with another Key than the app signs with (e.g. a stale deployment behind the gateway).
                endpoint = () => new FunctionAppHandler(other!);
                reason = "got 000001";
                break;
            case "proxy alters the body":
                tamper = Rewrite(json => json["resultMsg"] = "rewritten by a proxy", resign: false);
                reason = "Body-Sign does not verify";
                break;
            case "storage down":
                reason = "got 000005";
                break;
            case "slower than the budget":
                tamper = Delay(TimeSpan.FromMilliseconds(700));
                configure = s => s["DialTest:AnswerBudget"] = "00:00:00.500";
                reason = "over KooGallery's";
                break;
            case "mandatory field missing":
                tamper = Rewrite(json => json.Remove("instanceId"), resign: true);
                reason = "instanceId missing";
                break;
            case "address unreachable":
                configure = s => s["DialTest:Url"] = $"http://127.0.0.1:{ClosedPort()}/api/koogallery";
                endpoint = () => new SocketsHttpHandler();
                reason = "no answer";
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(fault));
        }

        if (fault == "wrong Key")
        {
            other = await TestApp.StartAsync(s => s["KooGallery:Keys:0"] = "a-key-koogallery-does-not-hold-0123");
        }

        await using var dial = await StartAsync(tamper, configure, endpoint, fault == "storage down" ? outage.FailIn : null);
        if (fault == "storage down")
        {
            dial.QueueWorker = false;
            outage.Arm(_ => true);
        }

        var report = await dial.RunAsync();
        outage.Disarm();
        if (fault == "storage down")
        {
            // Back up: the next run finds what the broken one noted (nothing was created) and cleans up.
            dial.QueueWorker = true;
            await dial.Market.App.Services.GetRequiredService<DialTestCleanup>().CleanEarlierAsync(string.Empty, CancellationToken.None);
        }

        if (other is not null)
        {
            await other.DisposeAsync();
        }

        Assert.False(report.Passed);
        Assert.Equal(expectedCase, report.FirstFailure!.Case);
        Assert.Contains(reason, report.FirstFailure.Reason, StringComparison.Ordinal);
        var run = Assert.Single(dial.Telemetry.Availability, a => a.Name == DialTestAvailability.RunName);
        Assert.False(run.Success);
        Assert.Equal(expectedCase, run.Properties["failedCase"]);
        Assert.Contains(expectedCase + " failed", run.Message, StringComparison.Ordinal);
        Assert.False(Assert.Single(dial.Telemetry.Availability, a => a.Name == DialTestAvailability.CaseName(expectedCase)).Success);

        // Whatever got through is purged all the same: the instance id follows from the run id.
        var id = InstanceKeys.InstanceId(DialTestOrders.OrderId(report.RunId), DialTestOrders.OrderLineId(report.RunId), null);
        Assert.Null(await dial.Market.App.Services.GetRequiredService<InstanceRepository>().GetAsync(id, CancellationToken.None));
        var ledger = dial.Market.App.Services.GetRequiredService<FailedOrderLedger>();
        Assert.Empty((await ledger.MonthAsync(ledger.MonthOf(dial.Market.App.Clock.GetUtcNow()), CancellationToken.None)).Orders);
    }

    [Fact]
    public async Task A_run_that_died_half_way_is_cleaned_up_by_the_next_run()
    {
        await using var dial = await StartAsync();
        var store = dial.Market.App.Services.GetRequiredService<DialTestStore>();
        var dead = DialTestOrders.NewRunId(dial.Market.App.Clock.GetUtcNow().AddMinutes(-15));
        await store.AddCleanupAsync(dead, dial.Market.App.Clock.GetUtcNow(), CancellationToken.None);
        var leftOver = await dial.Market.NewInstanceAsync(DialTestOrders.OrderId(dead), DialTestOrders.OrderLineId(dead));
        await dial.Market.DrainAsync();
        Assert.Equal(nameof(InstanceState.Ready), (await dial.Market.InstanceAsync(leftOver))!.State);

        // The next run releases it; the one after that (or this one, if the teardown was quick) purges it.
        var report = await dial.RunAsync();
        Assert.True(report.Passed, report.ToTable());
        await dial.Market.DrainAsync();
        await dial.RunAsync();

        Assert.Null(await dial.Market.InstanceAsync(leftOver));
        Assert.Null(await dial.Market.App.Services.GetRequiredService<BuiltInTenantProvisioner>().FindAsync(leftOver, CancellationToken.None));
        Assert.Empty(await RowsAsync(dial, o => o.OperationsTable, DialTestStore.CleanupPartition));
    }

    [Fact]
    public async Task Results_older_than_the_history_are_dropped_and_the_rest_kept()
    {
        await using var dial = await StartAsync();
        var store = dial.Market.App.Services.GetRequiredService<DialTestStore>();
        var now = dial.Market.App.Clock.GetUtcNow();
        DialTestReport Report(DateTimeOffset at, bool passed) => new(DialTestOrders.NewRunId(at), Address, at, TimeSpan.FromSeconds(2), null,
            [new(DialTestRun.NewInstanceCase, passed ? DialCaseOutcome.Passed : DialCaseOutcome.Failed, passed ? null : "newInstance: no answer", 10, 1)]);
        await store.RecordAsync(Report(now.AddDays(-8), passed: false), CancellationToken.None);
        await store.RecordAsync(Report(now.AddDays(-1), passed: false), CancellationToken.None);
        await store.RecordAsync(Report(now, passed: true), CancellationToken.None);

        Assert.Equal(2, await store.PurgeAsync(now.AddDays(-7), CancellationToken.None)); // the old run and its day

        var recent = await store.RecentAsync(10, CancellationToken.None);
        Assert.Equal([true, false], recent.Select(r => r.Passed)); // newest first
        var days = await store.DaysAsync(now.AddDays(-10), CancellationToken.None);
        Assert.Equal(2, days.Count);
        Assert.Equal("newInstance failed: newInstance: no answer", days[0].LastFailure);
    }

    [Fact]
    public async Task Sim_dial_plays_the_same_cases_by_hand_over_real_http()
    {
        await using var market = await LocalMarketplace.StartAsync();
        await using var worker = market.RunQueueWorker();
        var (web, baseUrl) = await Browser.LoopbackWeb.StartAsync(w =>
        {
            Browser.LoopbackWeb.MapFunctions(w, typeof(Callbacks.ProductionInterface), () => market.App.Function<Callbacks.ProductionInterface>());
            Browser.LoopbackWeb.MapFunctions(w, typeof(Callbacks.KitSyncInterface), () => market.App.Function<Callbacks.KitSyncInterface>());
        });
        try
        {
            var url = new Uri(baseUrl, "api/koogallery").ToString();

            Assert.Equal(0, await global::Cli.RunAsync(["dial", "--url", url, "--key", TestApp.Key, "--kit-key", TestApp.KitKey, "--tenant-sync", "--licence"]));
            Assert.Equal(1, await global::Cli.RunAsync(["dial", "--url", url, "--key", "a-key-this-app-does-not-hold-0123"]));
        }
        finally
        {
            await web.StopAsync();
            await web.DisposeAsync();
        }
    }

    [Fact]
    public async Task Without_a_production_address_there_is_no_dial_test()
    {
        await using var dial = await StartAsync(configure: s => s["DialTest:Url"] = string.Empty);

        Assert.Null(await dial.Runner.RunAsync(CancellationToken.None));
        Assert.Empty(dial.Telemetry.Availability);
    }

    [Fact]
    public async Task A_dial_test_order_never_counts_as_a_failed_order_but_a_real_failure_still_does()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var ledger = market.App.Services.GetRequiredService<FailedOrderLedger>();

        // Unknown instances answer 000003, which counts against an order that names itself.
        var dialOrder = DialTestOrders.OrderId("20261203000000abcdef");
        await market.CallAsync("refreshInstance", new { instanceId = "kg-unknown", orderId = dialOrder, orderLineId = dialOrder + "-000001", scene = "RENEWAL", expireTime = "20991231000000", testFlag = "1" });
        await market.CallAsync("refreshInstance", new { instanceId = "kg-unknown", orderId = "CS-REAL-ORDER", orderLineId = "CS-REAL-ORDER-000001", scene = "RENEWAL", expireTime = "20991231000000", testFlag = "0" });

        var month = await ledger.MonthAsync(ledger.MonthOf(market.App.Clock.GetUtcNow()), CancellationToken.None);
        Assert.Equal(["CS-REAL-ORDER"], month.Orders.Select(o => o.OrderId));
    }

    private static Func<HttpResponseMessage, Task> Rewrite(Action<JsonObject> change, bool resign) => async response =>
    {
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
        change(json);
        var bytes = Encoding.UTF8.GetBytes(json.ToJsonString());
        response.Content = new ByteArrayContent(bytes);
        if (resign)
        {
            response.Headers.Remove(BodySign.HeaderName);
            response.Headers.TryAddWithoutValidation(BodySign.HeaderName, BodySign.HeaderValue(TestApp.Key, bytes));
        }
    };

    private static Func<HttpResponseMessage, Task> Delay(TimeSpan delay) => _ => Task.Delay(delay);

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task<List<TableEntity>> RowsAsync(Dial dial, Func<StorageOptions, string> table, string partition)
    {
        var names = dial.Market.App.Services.GetRequiredService<IOptions<StorageOptions>>().Value;
        return await dial.Market.App.Services.GetRequiredService<TableServiceClient>().GetTableClient(table(names))
            .QueryAsync<TableEntity>(e => e.PartitionKey == partition).ToListAsync();
    }
}
