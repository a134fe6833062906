using System.Globalization;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Metering;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Usage you can bill on: counted exactly once whatever the client retries, never parked silently, rejected
/// rows isolated, debug usage never sent, and runs whose cost follows what is due rather than history.
/// </summary>
public class MeteringBillingTests
{
    private static async Task<(LocalMarketplace Market, string PayPerUse, DateTimeOffset Hour)> StartAsync(Action<IServiceCollection>? services = null)
    {
        var market = await LocalMarketplace.StartAsync(services: services);
        var id = await market.NewInstanceAsync("MOCKONDEMAND", productId: "OFFI-METERED", test: false);
        await market.DrainAsync();
        var now = market.App.Clock.GetUtcNow();
        var hour = UsagePeriods.HourOf(now).AddHours(-40);
        return (market, id, hour);
    }

    private static string Record(string instanceId, DateTimeOffset begin, string value = "1") =>
        $$"""{"instanceId":"{{instanceId}}","usageValue":"{{value}}","beginTime":"{{begin.ToString("O", CultureInfo.InvariantCulture)}}","endTime":"{{begin.AddMinutes(1).ToString("O", CultureInfo.InvariantCulture)}}"}""";

    private static async Task<(int Status, JsonElement Body)> PostAsync(TestApp app, string body, bool chunked = false)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        var bytes = Encoding.UTF8.GetBytes(body);
        context.Request.Body = new MemoryStream(bytes);
        if (!chunked)
        {
            context.Request.ContentLength = bytes.Length;
        }

        var result = (ObjectResult)await app.Function<UsageIntakeHttp>().Run(context.Request, CancellationToken.None);
        return (result.StatusCode ?? 200, JsonSerializer.SerializeToElement(result.Value));
    }

    private static List<string> Statuses(JsonElement body) =>
        body.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("status").GetString()!).ToList();

    private static async Task<decimal> CountedAsync(TestApp app, string instanceId) =>
        (await app.Services.GetRequiredService<UsageStore>().ListAsync(instanceId, CancellationToken.None)).Sum(r => r.Value);

    [Fact]
    public async Task A_batch_without_record_ids_retried_after_a_503_is_counted_exactly_once()
    {
        var outage = new StorageOutage();
        var (market, id, hour) = await StartAsync(outage.FailIn);
        await using var _ = market;
        var batch = "{\"records\":[" + string.Join(',', Enumerable.Range(0, 30).Select(i => Record(id, hour.AddHours(i), "2.5"))) + "]}";

        outage.Arm(StorageOutage.Transactions, allow: 10); // intake's only transactions are its usage writes
        var (failedStatus, failed) = await PostAsync(market.App, batch);
        outage.Disarm();

        Assert.Equal(503, failedStatus);
        Assert.Equal((10, 20), (failed.GetProperty("accepted").GetInt32(), failed.GetProperty("notProcessed").GetInt32()));
        Assert.Equal(25m, await CountedAsync(market.App, id)); // exactly what the 503 said was accepted

        var (status, retried) = await PostAsync(market.App, batch);
        var (_, again) = await PostAsync(market.App, batch);

        Assert.Equal(200, status);
        Assert.Equal((20, 10), (retried.GetProperty("accepted").GetInt32(), retried.GetProperty("duplicate").GetInt32()));
        Assert.Equal(30, again.GetProperty("duplicate").GetInt32());
        Assert.Equal(75m, await CountedAsync(market.App, id));
    }

    [Fact]
    public async Task Without_record_ids_equal_content_is_one_record_in_one_batch_or_two()
    {
        var (market, id, hour) = await StartAsync();
        await using var _ = market;
        var batch = "{\"records\":[" + Record(id, hour) + "," + Record(id, hour) + "]}";

        var (_, first) = await PostAsync(market.App, batch);
        var (_, second) = await PostAsync(market.App, batch);

        Assert.Equal(["accepted", "duplicate"], Statuses(first));
        Assert.Equal(["duplicate", "duplicate"], Statuses(second));
        Assert.Equal(1m, await CountedAsync(market.App, id));
    }

    [Fact]
    public async Task A_mistyped_or_impossible_record_is_rejected_alone_and_the_good_ones_are_kept()
    {
        var (market, id, hour) = await StartAsync();
        await using var _ = market;
        var batch = "{\"records\":[" + string.Join(',',
            Record(id, hour),
            """{"instanceId":1,"usageValue":"1","beginTime":"2026-11-29T08:00:00Z","endTime":"2026-11-29T08:01:00Z"}""",
            $$"""{"instanceId":"{{id}}","usageValue":"1","beginTime":"yesterday","endTime":"2026-11-29T08:01:00Z"}""",
            $$"""{"instanceId":"{{id}}","usageValue":"1","beginTime":"0001-01-01T00:00:00Z","endTime":"0001-01-01T00:01:00Z"}""",
            $$"""{"instanceId":"{{id}}","usageValue":"1","beginTime":"1600-01-01T00:00:00Z","endTime":"1600-01-01T00:01:00Z"}""",
            $$"""{"instanceId":"{{id}}","usageValue":"1","beginTime":"2026-11-29T08:00:00","endTime":"2026-11-29T08:01:00"}""",
            $$"""{"instanceId":"{{id}}","usageValue":{"x":1},"beginTime":"2026-11-29T08:00:00Z","endTime":"2026-11-29T08:01:00Z"}""",
            "null",
            "[1]",
            Record(id, hour.AddHours(1), "3")) + "]}";

        var (status, reply) = await PostAsync(market.App, batch);

        Assert.Equal(200, status);
        Assert.Equal(["accepted", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "rejected", "accepted"], Statuses(reply));
        var errors = reply.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("error").GetString()).ToList();
        Assert.Contains("instanceId must be a string", errors[1], StringComparison.Ordinal);
        Assert.Contains("beginTime must be an ISO 8601 time", errors[2], StringComparison.Ordinal);
        Assert.Contains("Metering__MaxRecordAge", errors[3], StringComparison.Ordinal);
        Assert.Contains("Metering__MaxRecordAge", errors[4], StringComparison.Ordinal);
        Assert.Contains("with a zone", errors[5], StringComparison.Ordinal);
        Assert.Contains("usageValue", errors[6], StringComparison.Ordinal);
        Assert.Contains("JSON object", errors[7], StringComparison.Ordinal);
        Assert.Equal(4m, await CountedAsync(market.App, id));
    }

    [Theory]
    [InlineData("null")]
    [InlineData("{\"records\":null}")]
    [InlineData("{\"records\":[]}")]
    [InlineData("[1,2]")]
    [InlineData("records=1")]
    public async Task A_body_that_is_not_a_batch_is_a_400_never_a_500(string body)
    {
        await using var market = await LocalMarketplace.StartAsync();

        var (status, reply) = await PostAsync(market.App, body);

        Assert.Equal(400, status);
        Assert.False(string.IsNullOrEmpty(reply.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task A_chunked_body_over_one_mebibyte_is_refused_without_being_read_whole()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var body = "{\"records\":[" + string.Join(',', Enumerable.Repeat(Record("x", DateTimeOffset.UtcNow), 9000)) + "]}";
        Assert.True(body.Length > UsageIntakeHttp.MaxBodyBytes);

        var (status, _) = await PostAsync(market.App, body, chunked: true);

        Assert.Equal(413, status);
    }

    [Fact]
    public async Task A_usage_message_the_queue_gave_up_on_is_parked_listed_and_redriven_once()
    {
        var outage = new StorageOutage();
        var (market, id, hour) = await StartAsync(outage.FailIn);
        await using var _ = market;
        var queues = market.App.Services.GetRequiredService<QueueServiceClient>();
        var poison = queues.GetQueueClient(market.App.Settings["KooGalleryUsageQueue"] + "-poison");
        await poison.SendMessageAsync("{\"records\":[" + Record(id, hour, "4") + "," + Record(id, hour.AddHours(1), "5") + "]}");
        await poison.SendMessageAsync("this is not usage");
        var messages = (await poison.ReceiveMessagesAsync(2)).Value;

        outage.Arm(StorageOutage.Transactions);
        foreach (var message in messages)
        {
            await market.App.Function<ParkPoisonedUsage>().Run(message, CancellationToken.None);
        }

        outage.Disarm();

        var admin = market.App.Function<UsageAdmin>();
        var list = JsonSerializer.SerializeToElement(((OkObjectResult)await admin.Parked(new DefaultHttpContext().Request, CancellationToken.None)).Value);
        Assert.Equal(2, list.GetArrayLength());
        var reasons = list.EnumerateArray().Select(p => p.GetProperty("Reason").GetString()!).ToList();
        Assert.Contains(reasons, r => r.StartsWith("not a usage batch", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.Contains("storage outage", StringComparison.Ordinal));
        Assert.Equal(0m, await CountedAsync(market.App, id));

        var usageBatch = list.EnumerateArray().Single(p => p.GetProperty("Reason").GetString()!.Contains("storage", StringComparison.Ordinal)).GetProperty("id").GetString()!;
        Assert.IsType<OkObjectResult>(await admin.RedriveParked(new DefaultHttpContext().Request, usageBatch, CancellationToken.None));
        Assert.IsType<NotFoundObjectResult>(await admin.RedriveParked(new DefaultHttpContext().Request, usageBatch, CancellationToken.None));
        var junk = list.EnumerateArray().Single(p => p.GetProperty("Reason").GetString()!.StartsWith("not a usage", StringComparison.Ordinal)).GetProperty("id").GetString()!;
        Assert.IsType<ConflictObjectResult>(await admin.RedriveParked(new DefaultHttpContext().Request, junk, CancellationToken.None));
        Assert.Equal(9m, await CountedAsync(market.App, id));
    }

    [Fact]
    public async Task A_usage_message_that_is_not_a_batch_is_parked_at_once_instead_of_retried()
    {
        await using var market = await LocalMarketplace.StartAsync();

        await market.App.Function<QueuedUsageIntake>().Run(Azure.Storage.Queues.Models.QueuesModelFactory.QueueMessage("m-1", "p", "not a batch", 1), CancellationToken.None);

        var parked = await market.App.Services.GetRequiredService<UsageStore>().ParkedAsync(CancellationToken.None);
        Assert.Equal("m-1", Assert.Single(parked).MessageId);
    }

    [Fact]
    public async Task Rows_koogallery_refuses_are_isolated_and_marked_rejected_while_the_rest_of_the_batch_goes_out()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var store = market.App.Services.GetRequiredService<UsageStore>();
        var hour = market.App.Clock.GetUtcNow().AddHours(-30);
        hour = UsagePeriods.HourOf(hour);
        await store.AddRowsAsync(Seed(hour, instances: 100, hours: 10), CancellationToken.None);
        market.OpenApi.RefusedUsageInstances["seed-17"] = true;
        market.OpenApi.RefusedUsageInstances["seed-71"] = true;

        var summary = await market.App.Services.GetRequiredService<UsagePushJob>().RunAsync(CancellationToken.None);

        Assert.Equal((980, 20), (summary.Pushed, summary.Rejected));
        var sent = market.OpenApi.UsagePushes.SelectMany(p => p.Records).Select(r => r["instance_id"]!.GetValue<string>()).ToList();
        Assert.Equal(980, sent.Count);
        Assert.DoesNotContain("seed-17", sent);
        var refused = await store.ListAsync("seed-17", CancellationToken.None);
        Assert.All(refused, r => Assert.Equal((UsageStatus.Rejected, "92020002"), (r.Status, r.KooGalleryResultCode)));
        Assert.All(refused, r => Assert.Contains("not a pay-per-use instance", r.LastError, StringComparison.Ordinal));

        // Rejected rows are final: the next run sends nothing again.
        Assert.Equal(0, (await market.App.Services.GetRequiredService<UsagePushJob>().RunAsync(CancellationToken.None)).Pushed);
    }

    [Fact]
    public async Task Usage_of_a_debug_instance_is_accepted_and_reported_but_never_sent()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var debug = await market.NewInstanceAsync("MOCKONDEMAND", test: true, productId: "P-DEBUG");
        await market.DrainAsync();
        var now = market.App.Clock.GetUtcNow();
        var hour = UsagePeriods.HourOf(now).AddHours(-3);

        var (_, reply) = await PostAsync(market.App, "{\"records\":[" + Record(debug, hour, "7") + "]}");
        var summary = await market.App.Services.GetRequiredService<UsagePushJob>().RunAsync(CancellationToken.None);

        Assert.Equal(["accepted"], Statuses(reply));
        Assert.Contains("never sent", reply.GetProperty("results")[0].GetProperty("note").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, summary.Pushed);
        Assert.Empty(market.OpenApi.UsagePushes);
        var row = Assert.Single(await market.App.Services.GetRequiredService<UsageStore>().ListAsync(debug, CancellationToken.None));
        Assert.Equal((UsageStatus.Debug, "7"), (row.Status, row.UsageValue));
    }

    [Fact]
    public async Task A_push_run_with_nothing_due_and_a_sweep_read_only_what_is_due_not_what_exists()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var store = market.App.Services.GetRequiredService<UsageStore>();
        var start = market.App.Clock.GetUtcNow().AddHours(-50);
        start = UsagePeriods.HourOf(start);
        await store.AddRowsAsync(Seed(start, instances: 200, hours: 20), CancellationToken.None);
        var job = market.App.Services.GetRequiredService<UsagePushJob>();
        Assert.Equal(4000, (await job.RunAsync(CancellationToken.None)).Pushed);

        // Instances that were busy once and are idle now.
        var ids = new List<string>();
        for (var i = 0; i < 30; i++)
        {
            ids.Add(await market.NewInstanceAsync($"MOCKPERIODYEARNEW-IDLE-{i}"));
        }

        await market.DrainAsync();
        var sweeper = market.App.Services.GetRequiredService<LifecycleSweeper>();
        market.App.Clock.Advance(TimeSpan.FromMinutes(6));
        var first = await sweeper.SweepAsync(CancellationToken.None);
        Assert.Equal((30, 0), (first.Instances, first.Requeued)); // each looked at once, then forgotten

        // The next run confirms the pushed hours are finished (its ledger row and its run row each, nothing else) and closes them.
        market.App.Clock.Advance(TimeSpan.FromHours(2));
        var closing = await job.RunAsync(CancellationToken.None);
        Assert.Equal((0, 40), (closing.Pushed, closing.EntitiesRead));

        var idlePush = await job.RunAsync(CancellationToken.None);
        var idleSweep = await sweeper.SweepAsync(CancellationToken.None);

        Assert.Equal((0, 0), (idlePush.Pushed, idlePush.EntitiesRead));
        Assert.Equal((0, 0), (idleSweep.EntriesDue, idleSweep.EntitiesRead));
    }

    [Fact]
    public async Task Retention_deletes_old_finished_usage_hours_and_event_lines_but_keeps_unsent_rows()
    {
        await using var market = await LocalMarketplace.StartAsync(s => s["Lifecycle:EventRetention"] = "10.00:00:00");
        var store = market.App.Services.GetRequiredService<UsageStore>();
        var now = market.App.Clock.GetUtcNow();
        var old = UsagePeriods.HourOf(now).AddDays(-40);
        await store.AddRowsAsync(Seed(old, instances: 3, hours: 2).Select(r => { r.Status = UsageStatus.Sent; return r; }), CancellationToken.None);
        await store.OpenHourAsync(old.AddHours(1), CancellationToken.None);
        await store.OpenHourAsync(old.AddHours(2), CancellationToken.None);
        var unsent = Seed(old.AddHours(5), instances: 1, hours: 1).ToList();
        await store.AddRowsAsync(unsent, CancellationToken.None);
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        market.App.Clock.Advance(TimeSpan.FromMinutes(6));
        await market.App.Services.GetRequiredService<LifecycleSweeper>().SweepAsync(CancellationToken.None);
        market.App.Clock.Advance(TimeSpan.FromDays(11));

        var summary = await market.App.Services.GetRequiredService<Retention>().RunAsync(CancellationToken.None);

        Assert.Equal((2, 6, 1), (summary.UsageHoursPurged, summary.UsageEntitiesDeleted, summary.UsageHoursKept));
        Assert.Equal(UsageStatus.Pending, Assert.Single(await store.ListAsync("seed-0", CancellationToken.None)).Status);
        Assert.True(summary.EventLinesDeleted > 0);
        Assert.Empty(await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(id, CancellationToken.None));
        Assert.Equal(nameof(InstanceState.Ready), (await market.InstanceAsync(id))!.State);
    }

    [Fact]
    public async Task An_instances_usage_listing_reads_the_hours_asked_for_and_that_instances_rows_not_the_table()
    {
        var log = new InstanceIndexTests.RequestLog();
        await using var market = await LocalMarketplace.StartAsync(services: s => StorageRoundTrips.WithPolicy(s, log));
        var store = market.App.Services.GetRequiredService<UsageStore>();
        var first = UsagePeriods.HourOf(market.App.Clock.GetUtcNow().AddHours(-48));
        await store.AddRowsAsync(Seed(first, instances: 40, hours: 24), CancellationToken.None);
        var usageTable = market.App.Settings["Storage:UsageTable"]!;
        var before = log.Requests.Count;

        var rows = await store.ListAsync("seed-7", first.AddHours(10), first.AddHours(14), CancellationToken.None);

        // Periods ending in the 5 hours asked for, of that instance only.
        Assert.Equal(5, rows.Count);
        Assert.All(rows, r => Assert.Equal("seed-7", r.InstanceId));
        var reads = log.Requests.Skip(before).Where(u => u.AbsolutePath.Contains("/" + usageTable + "()", StringComparison.Ordinal)).ToList();
        Assert.Equal(5, reads.Count);
        Assert.Empty(log.Scans(usageTable));

        // The operators' endpoint: by default the last 7 days, at most 31, dates checked.
        var now = market.App.Clock.GetUtcNow();
        Assert.True(UsageListWindow.TryRead(null, null, now, out var from, out var to, out _));
        Assert.Equal((now - TimeSpan.FromDays(7), now), (from, to));
        Assert.False(UsageListWindow.TryRead("2026-01-01", "2026-03-01", now, out _, out _, out var tooLong));
        Assert.Contains("31 days", tooLong, StringComparison.Ordinal);
        Assert.False(UsageListWindow.TryRead("yesterday", null, now, out _, out _, out _));
    }

    internal static IEnumerable<UsageRowEntity> Seed(DateTimeOffset first, int instances, int hours) =>
        from i in Enumerable.Range(0, instances)
        from h in Enumerable.Range(0, hours)
        let start = first.AddHours(h)
        select new UsageRowEntity
        {
            PartitionKey = UsageRowEntity.PartitionFor(start.AddHours(1)),
            RowKey = UsageRowEntity.RowKeyFor($"seed-{i}", start, null, 0),
            InstanceId = $"seed-{i}",
            PeriodStart = start,
            PeriodEnd = start.AddHours(1),
            UsageValue = "1.5",
            RecordCount = 1,
            MeteringSn = UsageRowEntity.MeteringSnFor($"seed-{i}", start, null, 0),
            CreatedAt = first,
        };
}
