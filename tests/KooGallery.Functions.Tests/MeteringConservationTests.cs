using System.Globalization;
using System.Text.Json;
using Azure.Storage.Queues;
using KooGallery.Functions.Metering;
using KooGallery.Functions.Operations;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using static KooGallery.Functions.Tests.Infrastructure.UsagePosts;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Every way usage used to get lost between what the app accepted and what KooGallery keeps (KooGallery keeps the
/// first value it receives per <c>metering_sn</c>), each played against real storage and the open-API emulator.
/// </summary>
public class MeteringConservationTests
{
    private static async Task<(LocalMarketplace Market, string Id, DateTimeOffset Hour)> StartAsync(
        Action<IServiceCollection>? services = null, Action<Dictionary<string, string?>>? configure = null, OpenApiEmulatorOptions? openApi = null)
    {
        var market = await LocalMarketplace.StartAsync(configure, services: services, openApiOptions: openApi);
        var id = await market.NewInstanceAsync("MOCKONDEMAND", productId: "OFFI-METERED", test: false);
        await market.DrainAsync();
        return (market, id, UsagePeriods.HourOf(market.App.Clock.GetUtcNow()).AddHours(-3));
    }

    private static UsagePushJob Job(LocalMarketplace market) => market.App.Services.GetRequiredService<UsagePushJob>();

    private static UsageStore Store(LocalMarketplace market) => market.App.Services.GetRequiredService<UsageStore>();

    /// <summary>What KooGallery bills for an instance: the first value per serial number.</summary>
    private static decimal Kept(LocalMarketplace market, string instanceId) =>
        market.OpenApi.KeptUsage().Values.Where(r => r["instance_id"]!.GetValue<string>() == instanceId)
            .Sum(r => decimal.Parse(r["usage_value"]!.GetValue<string>(), CultureInfo.InvariantCulture));

    [Fact]
    public async Task A_record_that_arrives_while_its_row_is_being_pushed_goes_out_on_the_next_run()
    {
        var (market, id, hour) = await StartAsync();
        await using var _ = market;
        await PostAsync(market.App, Record(id, hour, 2, "r1"));
        market.App.Clock.Advance(TimeSpan.FromMinutes(3)); // the hour was opened well before the push
        var once = 0;
        market.OpenApi.WhileUsagePushInFlight = async () =>
        {
            if (Interlocked.Increment(ref once) == 1)
            {
                Assert.Equal("accepted", Statuses((await PostAsync(market.App, Record(id, hour.AddMinutes(30), 3, "r2"))).Body)[0]);
            }
        };

        Assert.Equal(1, (await Job(market).RunAsync(CancellationToken.None)).Pushed);
        var next = await Job(market).RunAsync(CancellationToken.None);

        Assert.Equal((1, 0), (next.Pushed, next.HoursHeldByOtherRuns));
        Assert.Equal(5m, Kept(market, id));
        Assert.Equal(["2", "3"], market.OpenApi.UsagePushes.SelectMany(p => p.Records).Select(r => r["usage_value"]!.GetValue<string>()));
    }

    [Fact]
    public async Task Intake_opening_a_row_in_an_hour_being_pushed_never_holds_the_next_run_off()
    {
        var (market, id, hour) = await StartAsync();
        await using var _ = market;
        await PostAsync(market.App, Record(id, hour, 2, "r1"));
        market.App.Clock.Advance(TimeSpan.FromMinutes(3));
        var once = 0;
        market.OpenApi.WhileUsagePushInFlight = async () =>
        {
            if (Interlocked.Increment(ref once) == 1)
            {
                await PostAsync(market.App, Record(id, hour.AddMinutes(5), 4, "r2", package: "pkg-late")); // a new row in the hour
            }
        };

        await Job(market).RunAsync(CancellationToken.None);
        var next = await Job(market).RunAsync(CancellationToken.None);

        Assert.Equal((0, 1), (next.HoursHeldByOtherRuns, next.Pushed));
        Assert.Equal(6m, Kept(market, id));
    }

    [Fact]
    public async Task A_push_koogallery_recorded_but_never_answered_is_offered_again_unchanged_and_later_usage_gets_its_own_serial()
    {
        var (market, id, hour) = await StartAsync();
        await using var _ = market;
        await PostAsync(market.App, Record(id, hour, 2, "r1"));
        market.OpenApi.Faults.Enqueue(new Fault.RecordThenDrop(), times: 2); // the attempt and its one retry

        var unknown = await Job(market).RunAsync(CancellationToken.None);
        await PostAsync(market.App, Record(id, hour.AddMinutes(20), 3, "r2"));
        var next = await Job(market).RunAsync(CancellationToken.None);

        Assert.Equal((0, 1), (unknown.Pushed, unknown.LeftPending));
        Assert.Equal(2, next.Pushed);
        var rows = (await Store(market).ListAsync(id, CancellationToken.None)).OrderBy(r => r.Sequence).ToList();
        Assert.Equal([("2", UsageStatus.Sent), ("3", UsageStatus.Sent)], rows.Select(r => (r.UsageValue, r.Status)));
        Assert.All(market.OpenApi.UsagePushes.SelectMany(p => p.Records).Where(r => r["metering_sn"]!.GetValue<string>() == rows[0].MeteringSn),
            r => Assert.Equal("2", r["usage_value"]!.GetValue<string>())); // the same serial always carried the same value
        Assert.Equal(5m, Kept(market, id));
    }

    [Fact]
    public async Task A_push_koogallery_accepted_whose_marking_failed_is_never_grown()
    {
        var outage = new StorageOutage();
        var (market, id, hour) = await StartAsync(outage.FailIn);
        await using var _ = market;
        await PostAsync(market.App, Record(id, hour, 2, "r1"));
        market.OpenApi.WhileUsagePushInFlight = () =>
        {
            outage.Arm(m => m.Request.Uri.Path.Contains(market.App.Settings["Storage:UsageTable"]!, StringComparison.Ordinal) || StorageOutage.Transactions(m));
            return Task.CompletedTask;
        };

        await Job(market).RunAsync(CancellationToken.None);
        market.OpenApi.WhileUsagePushInFlight = null;
        outage.Disarm();
        Assert.Equal(UsageStatus.Offered, Assert.Single(await Store(market).ListAsync(id, CancellationToken.None)).Status);
        await PostAsync(market.App, Record(id, hour.AddMinutes(20), 3, "r2"));
        await Job(market).RunAsync(CancellationToken.None);

        Assert.Equal(5m, Kept(market, id));
        Assert.All(await Store(market).ListAsync(id, CancellationToken.None), r => Assert.Equal(UsageStatus.Sent, r.Status));
    }

    [Fact]
    public async Task A_refusal_of_the_whole_request_leaves_every_row_untouched_costs_a_few_calls_and_goes_out_once_fixed()
    {
        var koogallery = new OpenApiEmulatorOptions { UsagePushKeys = ["a-key-koogallery-has-that-the-app-does-not"] };
        await using var market = await LocalMarketplace.StartAsync(openApiOptions: koogallery);
        var store = Store(market);
        await store.AddRowsAsync(MeteringBillingTests.Seed(UsagePeriods.HourOf(market.App.Clock.GetUtcNow()).AddHours(-30), instances: 100, hours: 10), CancellationToken.None);

        var refused = await Job(market).RunAsync(CancellationToken.None);

        Assert.Equal((0, 0, 1000), (refused.Pushed, refused.Rejected, refused.LeftPending));
        Assert.True(refused.RequestRefusals >= 1);
        Assert.InRange(market.OpenApi.RequestCount, 1, 21); // the batch, then both halves of ever smaller parts: 2 log2(1000) calls at most
        Assert.All(await store.ListAsync("seed-17", CancellationToken.None), r => Assert.Equal((UsageStatus.Offered, null), (r.Status, r.KooGalleryResultCode)));
        Assert.Empty(await store.RejectedAsync(CancellationToken.None));

        koogallery.UsagePushKeys = [TestApp.Key];
        var fixedRun = await Job(market).RunAsync(CancellationToken.None);

        Assert.Equal((1000, 0), (fixedRun.Pushed, fixedRun.Rejected));
        Assert.Equal(1000, market.OpenApi.KeptUsage().Count);
    }

    [Fact]
    public async Task A_refused_row_sorted_first_in_the_only_batch_does_not_hold_back_the_others()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var store = Store(market);
        await store.AddRowsAsync(MeteringBillingTests.Seed(UsagePeriods.HourOf(market.App.Clock.GetUtcNow()).AddHours(-30), instances: 40, hours: 1), CancellationToken.None);
        market.OpenApi.RefusedUsageInstances["seed-0"] = true; // the first row of the batch, by its key

        var run = await Job(market).RunAsync(CancellationToken.None);

        Assert.Equal((39, 1), (run.Pushed, run.Rejected));
        Assert.Equal(UsageStatus.Rejected, Assert.Single(await store.ListAsync("seed-0", CancellationToken.None)).Status);
        Assert.Equal(39, market.OpenApi.KeptUsage().Count);
    }

    [Fact]
    public async Task A_gateway_refusal_leaves_the_rows_untouched()
    {
        await using var market = await LocalMarketplace.StartAsync(s => s["Marketplace:SecretKey"] = "not-the-secret-key-koogallery-knows");
        var store = Store(market);
        await store.AddRowsAsync(MeteringBillingTests.Seed(UsagePeriods.HourOf(market.App.Clock.GetUtcNow()).AddHours(-30), instances: 10, hours: 2), CancellationToken.None);

        var refused = await Job(market).RunAsync(CancellationToken.None);

        Assert.Equal((0, 0, 20, 1), (refused.Pushed, refused.Rejected, refused.LeftPending, refused.RequestRefusals));
        Assert.All(await store.ListAsync("seed-3", CancellationToken.None), r => Assert.Equal((UsageStatus.Offered, 0), (r.Status, r.PushAttempts)));
    }

    [Fact]
    public async Task Refused_rows_are_listed_and_an_operator_re_drives_them_under_their_serial_recorded_with_who_did_it()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var store = Store(market);
        await store.AddRowsAsync(MeteringBillingTests.Seed(UsagePeriods.HourOf(market.App.Clock.GetUtcNow()).AddHours(-30), instances: 50, hours: 4), CancellationToken.None);
        market.OpenApi.RefusedUsageInstances["seed-17"] = true;
        market.OpenApi.RefusedUsageInstances["seed-33"] = true;

        var first = await Job(market).RunAsync(CancellationToken.None);
        Assert.Equal((192, 8), (first.Pushed, first.Rejected));
        var admin = market.App.Function<UsageAdmin>();
        var listed = JsonSerializer.SerializeToElement(((OkObjectResult)await admin.Rejected(new DefaultHttpContext().Request, CancellationToken.None)).Value);
        Assert.Equal(8, listed.GetArrayLength());
        var serials = (await store.ListAsync("seed-17", CancellationToken.None)).Select(r => r.MeteringSn).Order().ToList();

        market.OpenApi.RefusedUsageInstances.Clear();
        var byKey = new DefaultHttpContext().Request;
        byKey.QueryString = new QueryString("?instanceId=seed-17");
        var redriven = JsonSerializer.SerializeToElement(((OkObjectResult)await admin.RedriveRejected(byKey, CancellationToken.None)).Value);
        var console = new DefaultHttpContext().Request;
        console.Method = "POST";
        console.Headers[OperatorAccess.KeyHeader] = market.App.Settings["Console:OperatorKeys:0"];
        console.Headers[OperatorAccess.ConsoleHeader] = "1";
        var fromConsole = JsonSerializer.SerializeToElement(((OkObjectResult)await market.App.Function<ConsoleFunctions>().RedriveRefusedUsage(console, CancellationToken.None)).Value);
        var second = await Job(market).RunAsync(CancellationToken.None);

        Assert.Equal(4, redriven.GetProperty("Redriven").GetInt32());
        Assert.Equal(4, fromConsole.GetProperty("Redriven").GetInt32());
        Assert.Equal((8, 0), (second.Pushed, second.Rejected));
        Assert.Empty(await store.RejectedAsync(CancellationToken.None));
        var rows = await store.ListAsync("seed-17", CancellationToken.None);
        Assert.All(rows, r => Assert.Equal((UsageStatus.Sent, Functions.Instances.InstanceLifecycle.MasterKeyOperator), (r.Status, r.RedrivenBy)));
        Assert.All(await store.ListAsync("seed-33", CancellationToken.None), r => Assert.Equal("operator key #0", r.RedrivenBy));
        Assert.Equal(serials, market.OpenApi.UsagePushes.SelectMany(p => p.Records).Where(r => r["instance_id"]!.GetValue<string>() == "seed-17").Select(r => r["metering_sn"]!.GetValue<string>()).Order());
        Assert.Equal(200, market.OpenApi.KeptUsage().Count);
    }

    [Fact]
    public async Task Record_ids_survive_every_resend_a_client_can_make()
    {
        var (market, id, hour) = await StartAsync();
        await using var _ = market;
        var records = Enumerable.Range(0, 6).Select(i => Record(id, hour.AddMinutes(i * 5), 1 + i)).ToArray();

        var (_, whole) = await PostAsync(market.App, records);
        var (_, subset) = await PostAsync(market.App, records[4], records[1]);
        var (_, reordered) = await PostAsync(market.App, [.. records.Reverse()]);
        var (_, grown) = await PostAsync(market.App, [.. records, Record(id, hour.AddMinutes(40), 10)]);

        Assert.Equal(6, whole.GetProperty("accepted").GetInt32());
        Assert.Equal(["duplicate", "duplicate"], Statuses(subset));
        Assert.Equal(6, reordered.GetProperty("duplicate").GetInt32());
        Assert.Equal((1, 6), (grown.GetProperty("accepted").GetInt32(), grown.GetProperty("duplicate").GetInt32()));
        Assert.Equal("31", Assert.Single(await Store(market).ListAsync(id, CancellationToken.None)).UsageValue);
    }

    [Fact]
    public async Task An_empty_record_id_and_an_end_in_the_future_are_refused_on_their_own()
    {
        var (market, id, hour) = await StartAsync();
        await using var _ = market;
        var now = market.App.Clock.GetUtcNow();

        var (_, reply) = await PostAsync(market.App,
            Record(id, hour, 1, ""),
            Record(id, hour.AddMinutes(1), 1, ""),
            Record(id, hour, 1, "   "),
            new { instanceId = id, usageValue = 1, beginTime = now.AddMinutes(-10).ToString("O", CultureInfo.InvariantCulture), endTime = now.AddHours(2).ToString("O", CultureInfo.InvariantCulture) },
            Record(id, hour.AddMinutes(2), 4, "ok"));

        Assert.Equal(["rejected", "rejected", "rejected", "rejected", "accepted"], Statuses(reply));
        var errors = reply.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("error").GetString()).ToList();
        Assert.Contains("recordId must not be empty", errors[0], StringComparison.Ordinal);
        Assert.Contains("endTime is in the future", errors[3], StringComparison.Ordinal);
        Assert.Equal("4", Assert.Single(await Store(market).ListAsync(id, CancellationToken.None)).UsageValue);
    }

    [Fact]
    public async Task A_refused_oversized_body_is_read_to_its_end_before_the_413()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var body = new CountingStream(32 * 1024 * 1024);
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Body = body;

        var result = (ObjectResult)await market.App.Function<UsageIntakeHttp>().Run(context.Request, CancellationToken.None);

        Assert.Equal(413, result.StatusCode);
        Assert.Equal(body.Length, body.Position); // the host, still sending, would otherwise fail the call with an empty 500
    }

    [Fact]
    public async Task An_hour_with_only_debug_usage_is_purged_by_retention()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var debug = await market.NewInstanceAsync("MOCKONDEMAND", test: true, productId: "P-DEBUG");
        await market.DrainAsync();
        var hour = UsagePeriods.HourOf(market.App.Clock.GetUtcNow()).AddHours(-2);
        await PostAsync(market.App, Record(debug, hour, 7));
        await Job(market).RunAsync(CancellationToken.None);

        market.App.Clock.Advance(TimeSpan.FromDays(36));
        var summary = await market.App.Services.GetRequiredService<Retention>().RunAsync(CancellationToken.None);

        Assert.Equal((1, 0), (summary.UsageHoursPurged, summary.UsageHoursKept));
        Assert.Empty(await Store(market).ListAsync(debug, CancellationToken.None));
        Assert.Empty(market.OpenApi.UsagePushes);
    }

    [Fact]
    public async Task A_usage_message_that_cannot_even_be_parked_is_queued_again_instead_of_lost()
    {
        var outage = new StorageOutage();
        var (market, id, hour) = await StartAsync(outage.FailIn);
        await using var _ = market;
        var poison = market.App.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(market.App.Settings["KooGalleryUsageQueue"] + "-poison");
        await poison.SendMessageAsync(JsonSerializer.Serialize(new { records = new[] { Record(id, hour, 4) } }));
        var message = (await poison.ReceiveMessagesAsync(1)).Value.Single();

        outage.Arm(m => !m.Request.Uri.Path.EndsWith("/messages", StringComparison.Ordinal)); // tables down, queues up
        await market.App.Function<ParkPoisonedUsage>().Run(message, CancellationToken.None); // does not throw
        outage.Disarm();
        await poison.DeleteMessageAsync(message.MessageId, message.PopReceipt); // the host does this when the function returns

        Assert.Equal(1, (await poison.GetPropertiesAsync()).Value.ApproximateMessagesCount); // the copy, hidden for a while
        Assert.Empty(await Store(market).ParkedAsync(CancellationToken.None));
        Assert.Empty(await Store(market).ListAsync(id, CancellationToken.None));
    }

    [Fact]
    public async Task The_console_overview_reads_no_usage_row_however_much_usage_there_is()
    {
        var trips = new StorageRoundTrips();
        await using var market = await LocalMarketplace.StartAsync(services: trips.CountIn);
        var console = market.App.Services.GetRequiredService<OperatorConsole>();
        var usageTable = market.App.Settings["Storage:UsageTable"]!;
        trips.Reset();
        await console.OverviewAsync(CancellationToken.None);
        var empty = trips.Calls.Count;
        await Store(market).AddRowsAsync(MeteringBillingTests.Seed(UsagePeriods.HourOf(market.App.Clock.GetUtcNow()).AddHours(-20), instances: 200, hours: 18), CancellationToken.None);
        await Job(market).RunAsync(CancellationToken.None);

        trips.Reset();
        var overview = JsonSerializer.SerializeToElement(await console.OverviewAsync(CancellationToken.None));

        Assert.DoesNotContain(trips.Calls, c => c.Contains(usageTable, StringComparison.Ordinal));
        Assert.Equal(empty, trips.Calls.Count);
        Assert.Equal(3600, overview.GetProperty("usage").GetProperty("sent").GetInt32());
    }

    /// <summary>A request body of a given length that counts what was read of it.</summary>
    private sealed class CountingStream(long length) : Stream
    {
        private long position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - position);
            Array.Fill(buffer, (byte)'a', offset, n);
            position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
