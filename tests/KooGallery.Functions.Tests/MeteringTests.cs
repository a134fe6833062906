using System.Globalization;
using System.Text;
using System.Text.Json;
using Azure.Storage.Queues;
using KooGallery.Functions.Metering;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using static KooGallery.Functions.Tests.Infrastructure.UsagePosts;

namespace KooGallery.Functions.Tests;

/// <summary>Usage metering: intake → hourly outbox rows → signed push, on Azurite with the emulator verifying signatures.</summary>
public class MeteringTests
{
    private static async Task<(LocalMarketplace Market, string PayPerUse, DateTimeOffset Hour)> StartWithInstanceAsync()
    {
        var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKONDEMAND", productId: "OFFI-METERED", test: false);
        await market.DrainAsync();
        var now = market.App.Clock.GetUtcNow();
        var hour = UsagePeriods.HourOf(now).AddHours(-3);
        return (market, id, hour);
    }

    private static async Task<JsonElement> PostAsync(TestApp app, params object[] records)
    {
        var (status, body) = await UsagePosts.PostAsync(app, records);
        Assert.Equal(200, status);
        return body;
    }

    private static UsagePushJob Job(TestApp app) => app.Services.GetRequiredService<UsagePushJob>();

    private static UsageStore Store(TestApp app) => app.Services.GetRequiredService<UsageStore>();

    [Fact]
    public async Task Records_are_aggregated_per_instance_hour_pushed_once_and_a_late_record_makes_a_new_row()
    {
        var (market, id, hour) = await StartWithInstanceAsync();
        await using var _ = market;

        var intake = await PostAsync(market.App,
            Record(id, hour.AddMinutes(0), 1.5, "r1"),
            Record(id, hour.AddMinutes(20), "2.25", "r2"),
            Record(id, hour.AddMinutes(40), 0.0001, "r3"),
            Record(id, hour.AddHours(1), 7, "r4"));
        Assert.Equal(4, intake.GetProperty("accepted").GetInt32());

        var rows = await Store(market.App).ListAsync(id, CancellationToken.None);
        Assert.Equal(["3.7501", "7"], rows.OrderBy(r => r.PeriodStart).Select(r => r.UsageValue));

        var first = await Job(market.App).RunAsync(CancellationToken.None);
        var second = await Job(market.App).RunAsync(CancellationToken.None);

        Assert.Equal((2, 1), (first.Pushed, first.Batches));
        Assert.Equal(0, second.Pushed);
        var push = Assert.Single(market.OpenApi.UsagePushes);
        var sent = push.Records.OrderBy(r => r["begin_time"]!.GetValue<string>()).ToList();
        Assert.Equal(hour.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture), sent[0]["begin_time"]!.GetValue<string>());
        Assert.Equal(hour.AddHours(1).UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture), sent[0]["end_time"]!.GetValue<string>());
        Assert.Equal("3.7501", sent[0]["usage_value"]!.GetValue<string>());
        Assert.Equal(id, sent[0]["instance_id"]!.GetValue<string>());
        Assert.All(await Store(market.App).ListAsync(id, CancellationToken.None), r => Assert.Equal((UsageStatus.Sent, "92020000"), (r.Status, r.KooGalleryResultCode)));

        // A late record for the hour already pushed: a new row for that hour, with its own metering_sn.
        await PostAsync(market.App, Record(id, hour.AddMinutes(50), 1, "r5"));
        var third = await Job(market.App).RunAsync(CancellationToken.None);

        Assert.Equal(1, third.Pushed);
        var late = Assert.Single(market.OpenApi.UsagePushes[1].Records);
        Assert.Equal("1", late["usage_value"]!.GetValue<string>());
        Assert.NotEqual(sent[0]["metering_sn"]!.GetValue<string>(), late["metering_sn"]!.GetValue<string>());
        Assert.Equal(UsageRowEntity.MeteringSnFor(id, hour, null, 1), late["metering_sn"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bad_records_are_rejected_with_their_reason_and_good_ones_in_the_same_batch_are_kept()
    {
        var (market, id, hour) = await StartWithInstanceAsync();
        await using var _ = market;
        var period = await market.NewInstanceAsync("MOCKPERIODYEARNEW", test: false);
        var released = await market.NewInstanceAsync("MOCKONDEMANDPKG", test: false);
        await market.DrainAsync();
        await market.CallAsync("releaseInstance", new { instanceId = released });
        await market.DrainAsync();
        await PostAsync(market.App, Record(id, hour, 1, "dup-1"));

        var reply = await PostAsync(market.App,
            Record(id, hour.AddMinutes(1), 2, "good-1"),
            Record("no-such-instance", hour, 1),
            Record(period, hour, 1),
            Record(released, hour, 1),
            Record(id, hour, 0),
            Record(id, hour, 1.23456),
            Record(id, hour, 1, minutes: -5),
            Record(id, hour.AddMinutes(50), 1, minutes: 20),
            Record(id, hour, 1, "dup-1"),
            Record(id, market.App.Clock.GetUtcNow().AddHours(1), 1),
            Record(id, hour.AddMinutes(2), "3", "good-2"));

        var results = reply.GetProperty("results").EnumerateArray().Select(r => (Status: r.GetProperty("status").GetString(), Error: r.GetProperty("error").GetString())).ToList();
        Assert.Equal(("accepted", null), results[0]);
        Assert.Contains("unknown instance", results[1].Error, StringComparison.Ordinal);
        Assert.Contains("not pay-per-use (charging mode PERIOD)", results[2].Error, StringComparison.Ordinal);
        Assert.Contains("is released", results[3].Error, StringComparison.Ordinal);
        Assert.Contains("more than 0", results[4].Error, StringComparison.Ordinal);
        Assert.Contains("at most 4 decimals", results[5].Error, StringComparison.Ordinal);
        Assert.Contains("endTime must be after beginTime", results[6].Error, StringComparison.Ordinal);
        Assert.Contains("more than one billing period", results[7].Error, StringComparison.Ordinal);
        Assert.Equal("duplicate", results[8].Status);
        Assert.Contains("in the future", results[9].Error, StringComparison.Ordinal);
        Assert.Equal(("accepted", null), results[10]);
        Assert.Equal((2, 1, 8), (reply.GetProperty("accepted").GetInt32(), reply.GetProperty("duplicate").GetInt32(), reply.GetProperty("rejected").GetInt32()));
        Assert.Equal("6", Assert.Single(await Store(market.App).ListAsync(id, CancellationToken.None)).UsageValue);
    }

    [Fact]
    public async Task Concurrent_intake_into_one_hour_loses_no_increment()
    {
        var (market, id, hour) = await StartWithInstanceAsync();
        await using var _ = market;

        var replies = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => PostAsync(market.App, Record(id, hour.AddSeconds(i), 0.25, $"c-{i}"))));

        Assert.All(replies, r => Assert.Equal(1, r.GetProperty("accepted").GetInt32()));
        var row = Assert.Single(await Store(market.App).ListAsync(id, CancellationToken.None));
        Assert.Equal(("10", 40), (row.UsageValue, row.RecordCount));
    }

    [Fact]
    public async Task Package_consumption_is_kept_apart_and_sent_with_relate_pkg_instance()
    {
        var (market, id, hour) = await StartWithInstanceAsync();
        await using var _ = market;

        await PostAsync(market.App, Record(id, hour, 1, package: "pkg-1"), Record(id, hour, 2, package: "pkg-2"), Record(id, hour, 4));
        await Job(market.App).RunAsync(CancellationToken.None);

        var records = Assert.Single(market.OpenApi.UsagePushes).Records;
        Assert.Equal(3, records.Count);
        Assert.Equal("1", records.Single(r => r["relate_pkg_instance"]?.GetValue<string>() == "pkg-1")["usage_value"]!.GetValue<string>());
        Assert.Equal("4", records.Single(r => r["relate_pkg_instance"] is null)["usage_value"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_current_hour_waits_until_it_has_ended()
    {
        var (market, id, _) = await StartWithInstanceAsync();
        await using var __ = market;
        var now = market.App.Clock.GetUtcNow();
        var thisHour = UsagePeriods.HourOf(now);

        await PostAsync(market.App, Record(id, thisHour, 1, minutes: 1));
        Assert.Equal(0, (await Job(market.App).RunAsync(CancellationToken.None)).Pushed);
        market.App.Clock.Advance(TimeSpan.FromHours(1));
        Assert.Equal(1, (await Job(market.App).RunAsync(CancellationToken.None)).Pushed);
    }

    [Fact]
    public async Task Twenty_five_hundred_rows_go_out_in_three_batches()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var store = Store(market.App);
        var start = market.App.Clock.GetUtcNow().AddDays(-5);
        await SeedAsync(store, start, instances: 50, hours: 50);

        var summary = await Job(market.App).RunAsync(CancellationToken.None);

        Assert.Equal((2500, 3), (summary.Pushed, summary.Batches));
        Assert.Equal([500, 1000, 1000], market.OpenApi.UsagePushes.Select(p => p.Records.Count).Order());
        Assert.Equal(2500, market.OpenApi.UsagePushes.SelectMany(p => p.Records).Select(r => r["metering_sn"]!.GetValue<string>()).Distinct().Count());
    }

    [Fact]
    public async Task When_koogallery_fails_rows_stay_sealed_untouched_and_go_out_unchanged_next_run()
    {
        await using var market = await LocalMarketplace.StartAsync(s => s["Metering:UnsentAlertAge"] = "00:30:00");
        var store = Store(market.App);
        await SeedAsync(store, market.App.Clock.GetUtcNow().AddHours(-5), instances: 3, hours: 2);
        market.OpenApi.Faults.Enqueue(new Fault.ServerError(503), times: 2); // first attempt and its one retry

        var failed = await Job(market.App).RunAsync(CancellationToken.None);

        Assert.Equal((0, 6, 6), (failed.Pushed, failed.LeftPending, failed.UnsentPastAlertAge));
        var rows = await store.ListAsync("seed-0", CancellationToken.None);
        Assert.All(rows, r => Assert.Equal((UsageStatus.Offered, null), (r.Status, r.LastError)));
        Assert.Empty(market.OpenApi.UsagePushes);
        var runs = await store.HourRunsAsync(market.App.Clock.GetUtcNow().AddHours(-6), market.App.Clock.GetUtcNow(), CancellationToken.None);
        Assert.All(runs, r => Assert.Contains("503", r.LastError, StringComparison.Ordinal));

        var next = await Job(market.App).RunAsync(CancellationToken.None);

        Assert.Equal((6, 0), (next.Pushed, next.UnsentPastAlertAge));
        Assert.Equal(6, Assert.Single(market.OpenApi.UsagePushes).Records.Count);
        Assert.Equal(rows.Select(r => r.MeteringSn).Order(), market.OpenApi.UsagePushes[0].Records.Where(r => r["instance_id"]!.GetValue<string>() == "seed-0").Select(r => r["metering_sn"]!.GetValue<string>()).Order());
    }

    [Fact]
    public async Task Two_overlapping_runs_never_push_a_row_twice()
    {
        await using var market = await LocalMarketplace.StartAsync();
        await SeedAsync(Store(market.App), market.App.Clock.GetUtcNow().AddDays(-2), instances: 20, hours: 20);

        var runs = await Task.WhenAll(Job(market.App).RunAsync(CancellationToken.None), Job(market.App).RunAsync(CancellationToken.None));

        Assert.Equal(400, runs.Sum(r => r.Pushed));
        var sns = market.OpenApi.UsagePushes.SelectMany(p => p.Records).Select(r => r["metering_sn"]!.GetValue<string>()).ToList();
        Assert.Equal(400, sns.Count);
        Assert.Equal(400, sns.Distinct().Count());
    }

    [Fact]
    public async Task An_hour_left_leased_by_a_crashed_run_goes_out_with_the_same_metering_sn_after_the_lease()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var store = Store(market.App);
        await SeedAsync(store, market.App.Clock.GetUtcNow().AddHours(-3), instances: 1, hours: 1);
        var row = Assert.Single(await store.ListAsync("seed-0", CancellationToken.None));
        var hour = Assert.Single(await store.OpenHoursAsync(market.App.Clock.GetUtcNow(), CancellationToken.None));
        Assert.NotNull(await store.TryLeaseHourAsync(hour.RowKey, "crashed-run", market.App.Clock.GetUtcNow().AddMinutes(10), CancellationToken.None));

        var held = await Job(market.App).RunAsync(CancellationToken.None);
        Assert.Equal((0, 1), (held.Pushed, held.HoursHeldByOtherRuns));
        market.App.Clock.Advance(TimeSpan.FromMinutes(11));
        Assert.Equal(1, (await Job(market.App).RunAsync(CancellationToken.None)).Pushed);

        Assert.Equal(row.MeteringSn, Assert.Single(Assert.Single(market.OpenApi.UsagePushes).Records)["metering_sn"]!.GetValue<string>());
    }

    [Fact]
    public async Task Queue_intake_counts_a_retried_message_once()
    {
        var (market, id, hour) = await StartWithInstanceAsync();
        await using var _ = market;
        var queue = market.App.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(market.App.Settings["KooGalleryUsageQueue"]);
        await queue.SendMessageAsync(JsonSerializer.Serialize(new { records = new[] { Record(id, hour, 2), Record(id, hour.AddMinutes(5), 3) } }));
        var message = (await queue.ReceiveMessagesAsync(1)).Value.Single();

        await market.App.Function<QueuedUsageIntake>().Run(message, CancellationToken.None);
        await market.App.Function<QueuedUsageIntake>().Run(message, CancellationToken.None); // the host retrying after a crash

        Assert.Equal("5", Assert.Single(await Store(market.App).ListAsync(id, CancellationToken.None)).UsageValue);
    }

    [Fact]
    public async Task Operators_can_list_an_instances_usage_rows_with_koogallerys_answers()
    {
        var (market, id, hour) = await StartWithInstanceAsync();
        await using var _ = market;
        await PostAsync(market.App, Record(id, hour, 1.5));
        await Job(market.App).RunAsync(CancellationToken.None);

        var result = await market.App.Function<UsageAdmin>().Run(new DefaultHttpContext().Request, id, CancellationToken.None);

        var text = JsonSerializer.Serialize(((OkObjectResult)result).Value);
        Assert.Contains("\"Status\":\"sent\"", text, StringComparison.Ordinal);
        Assert.Contains("\"KooGalleryResultCode\":\"92020000\"", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_that_is_not_a_batch_is_a_400()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var context = new DefaultHttpContext();
        context.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes("records=1"));

        Assert.IsType<BadRequestObjectResult>(await market.App.Function<UsageIntakeHttp>().Run(context.Request, CancellationToken.None));
    }

    [Fact]
    public void Daily_products_use_the_calendar_day_of_koogallery_s_time_zone()
    {
        var (start, end) = UsagePeriods.Of(new DateTimeOffset(2026, 11, 29, 17, 30, 0, TimeSpan.Zero), daily: true, TimeSpan.FromHours(8));

        Assert.Equal(new DateTimeOffset(2026, 11, 29, 16, 0, 0, TimeSpan.Zero), start); // 2026-11-30 00:00 +08:00
        Assert.Equal(start.AddDays(1), end);
        Assert.Equal(new DateTimeOffset(2026, 11, 29, 17, 0, 0, TimeSpan.Zero), UsagePeriods.Of(new DateTimeOffset(2026, 11, 29, 17, 30, 0, TimeSpan.Zero), false, TimeSpan.Zero).Start);
    }

    private static async Task SeedAsync(UsageStore store, DateTimeOffset since, int instances, int hours) =>
        await store.AddRowsAsync(MeteringBillingTests.Seed(UsagePeriods.HourOf(since), instances, hours), CancellationToken.None);
}
