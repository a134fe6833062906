using System.Globalization;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using KooGallery.Functions.Licensing;
using KooGallery.Functions.Marketplace;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

/// <summary>Licence-code products: KooGallery's licence callbacks, activation and the daily check, on Azurite with the emulator.</summary>
public class LicenseTests
{
    // The fake tenant API checks webhook signatures against its real clock (5 minutes either way), so tests that
    // move the app's clock stay within a few minutes of it: the sweeper looks again after one minute here.
    private static Task<LocalMarketplace> StartAsync(bool webhook = false) =>
        LocalMarketplace.StartAsync(s => s["Lifecycle:RequeueAfter"] = "00:01:00", webhookTenants: webhook);

    private static Task<CallbackReply> Refresh(LocalMarketplace market, string license, string orderId = "CS-LIC-R1", string scene = "RENEWAL", string expireTime = "20301231235959") =>
        market.CallAsync("refreshLicenseCode", new { license, orderId, orderLineId = orderId + "-1", expireTime, productId = "OFFI-LIC", scene });

    private static Task<LicenseEntity?> Stored(LocalMarketplace market, string license) =>
        market.App.Services.GetRequiredService<LicenseRepository>().GetAsync(license, CancellationToken.None);

    private static async Task<(int Status, JsonElement Body)> Activate(LocalMarketplace market, object body)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Body = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(body));
        var result = (ObjectResult)await market.App.Function<LicenseEndpoints>().Activate(context.Request, CancellationToken.None);
        return (result.StatusCode ?? 200, JsonSerializer.SerializeToElement(result.Value));
    }

    private static async Task<LicenseVerdict> Check(LocalMarketplace market, string license) =>
        (LicenseVerdict)((OkObjectResult)await market.App.Function<LicenseEndpoints>().Check(new DefaultHttpContext().Request, license, CancellationToken.None)).Value!;

    [Fact]
    public async Task A_licence_code_holding_characters_table_keys_forbid_is_stored_and_changed_like_any_other()
    {
        await using var market = await StartAsync();
        const string awkward = "a/b#c?d\\e%f&g=h+N6TR1O";

        var refreshed = await Refresh(market, awkward);
        var frozen = await market.CallAsync("updateLicenseCodeStatus", new { license = awkward, status = "FREEZE" });
        var released = await market.CallAsync("releaseLicenseCode", new { license = awkward });

        Assert.Equal(("000000", "000000", "000000"), (refreshed.ResultCode, frozen.ResultCode, released.ResultCode));
        Assert.Equal(LicenseStatus.Released, (await Stored(market, awkward))!.Status);
    }

    [Theory]
    [InlineData("refreshLicenseCode")]
    [InlineData("refreshInstance")]
    public async Task An_expiry_no_calendar_can_hold_is_a_parameter_error_even_for_unknown_ids(string activity)
    {
        await using var market = await StartAsync();

        var reply = activity == "refreshLicenseCode"
            ? await Refresh(market, "PLUNKNOWN01", expireTime: "00010101000000")
            : await market.CallAsync("refreshInstance", new { instanceId = "kg-unknown", orderId = "CS-1", orderLineId = "CS-1-1", scene = "RENEWAL", expireTime = "00010101000000" });

        Assert.Equal("000002", reply.ResultCode);
        Assert.Contains("expireTime", reply.ResultMsg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_renewal_of_a_licence_not_seen_yet_is_recorded_once_with_its_expiry()
    {
        await using var market = await StartAsync();

        var first = await Refresh(market, "PLNEW0001");
        var repeat = await Refresh(market, "PLNEW0001");

        Assert.Equal(("000000", "000000"), (first.ResultCode, repeat.ResultCode));
        Assert.Contains("already applied", repeat.ResultMsg, StringComparison.Ordinal);
        var license = (await Stored(market, "PLNEW0001"))!;
        Assert.Equal((LicenseStatus.Active, "20301231235959", 1, true), (license.Status, license.ExpireTime, license.Version, license.RefreshDue));
        Assert.Equal(new DateTimeOffset(2030, 12, 31, 23, 59, 59, TimeSpan.FromHours(8)), license.ExpiresAt);
        var events = await market.App.Services.GetRequiredService<LicenseRepository>().EventsAsync("PLNEW0001", CancellationToken.None);
        Assert.Contains("first seen", Assert.Single(events).Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Freeze_unfreeze_and_release_are_idempotent_and_an_impossible_unfreeze_is_000002()
    {
        await using var market = await StartAsync();
        await Refresh(market, "PLSTATUS01");

        var replies = new List<CallbackReply>
        {
            await market.CallAsync("updateLicenseCodeStatus", new { license = "PLSTATUS01", status = "FREEZE" }),
            await market.CallAsync("updateLicenseCodeStatus", new { license = "PLSTATUS01", status = "FREEZE" }),
            await market.CallAsync("updateLicenseCodeStatus", new { license = "PLSTATUS01", status = "UNFREEZE" }),
            await market.CallAsync("releaseLicenseCode", new { license = "PLSTATUS01", orderId = "CS-UNSUB", orderLineId = "CS-UNSUB-1" }),
            await market.CallAsync("releaseLicenseCode", new { license = "PLSTATUS01" }),
        };
        var unfreezeReleased = await market.CallAsync("updateLicenseCodeStatus", new { license = "PLSTATUS01", status = "UNFREEZE" });
        var renewReleased = await Refresh(market, "PLSTATUS01", "CS-LATE");

        Assert.All(replies, r => Assert.Equal("000000", r.ResultCode));
        Assert.Equal(("000002", "000002"), (unfreezeReleased.ResultCode, renewReleased.ResultCode));
        Assert.Contains("released", unfreezeReleased.ResultMsg, StringComparison.Ordinal);
        var license = (await Stored(market, "PLSTATUS01"))!;
        Assert.Equal((LicenseStatus.Released, 4), (license.Status, license.Version)); // refresh, freeze, unfreeze, release
    }

    [Theory]
    [InlineData("""{"activity":"refreshLicenseCode","license":"PL1","orderId":"O","orderLineId":"L","expireTime":"2030-12-31","scene":"RENEWAL"}""", "expireTime")]
    [InlineData("""{"activity":"refreshLicenseCode","license":"PL1","orderId":"O","orderLineId":"L","expireTime":"20301231235959","scene":"LATER"}""", "scene")]
    [InlineData("""{"activity":"refreshLicenseCode","orderId":"O","orderLineId":"L","expireTime":"20301231235959","scene":"RENEWAL"}""", "license")]
    [InlineData("""{"activity":"updateLicenseCodeStatus","license":"PL1","status":"PAUSE"}""", "status")]
    [InlineData("""{"activity":"releaseLicenseCode","license":{"code":"PL1"}}""", "license")]
    public async Task A_bad_field_answers_000002_with_the_reason(string body, string field)
    {
        await using var market = await StartAsync();

        var reply = await SignedCall.SendSignedAsync(market.App, body);

        Assert.Equal("000002", reply.ResultCode);
        Assert.Contains(field, reply.ResultMsg, StringComparison.Ordinal);
    }

    public static TheoryData<string> EachCallback => new()
    {
        """{"activity":"refreshLicenseCode","license":"PLEACH","orderId":"O","orderLineId":"L","expireTime":"20301231235959","scene":"RENEWAL"}""",
        """{"activity":"updateLicenseCodeStatus","license":"PLEACH","status":"FREEZE"}""",
        """{"activity":"releaseLicenseCode","license":"PLEACH"}""",
    };

    [Theory]
    [MemberData(nameof(EachCallback))]
    public async Task A_bad_signature_is_000001_and_changes_nothing(string body)
    {
        await using var market = await StartAsync();

        var reply = await SignedCall.SendSignedAsync(market.App, body, key: "not-the-key");

        Assert.Equal("000001", reply.ResultCode);
        Assert.Null(await Stored(market, "PLEACH"));
    }

    [Theory]
    [MemberData(nameof(EachCallback))]
    public async Task Storage_failing_answers_000005_with_nothing_half_written(string body)
    {
        await using var market = await StartAsync();
        var tables = market.App.Services.GetRequiredService<TableServiceClient>();
        var table = market.App.Settings["Storage:LicenseTable"]!;
        await tables.DeleteTableAsync(table);

        var reply = await SignedCall.SendSignedAsync(market.App, body);

        Assert.Equal("000005", reply.ResultCode);
        await tables.CreateTableIfNotExistsAsync(table);
        Assert.Empty(await tables.GetTableClient(table).QueryAsync<TableEntity>().ToListAsync());
        Assert.Equal("000000", (await SignedCall.SendSignedAsync(market.App, body)).ResultCode); // KooGallery's retry goes through
        Assert.NotNull(await Stored(market, "PLEACH"));
    }

    [Theory]
    [InlineData(nameof(LicenseEndpoints.Activate), Microsoft.Azure.Functions.Worker.AuthorizationLevel.Function)]
    [InlineData(nameof(LicenseEndpoints.Check), Microsoft.Azure.Functions.Worker.AuthorizationLevel.Function)]
    public void The_softwares_endpoints_take_the_function_key_and_the_operators_the_admin_key(string method, Microsoft.Azure.Functions.Worker.AuthorizationLevel level)
    {
        static Microsoft.Azure.Functions.Worker.AuthorizationLevel Level(Type type, string name) =>
            type.GetMethod(name)!.GetParameters().SelectMany(p => p.GetCustomAttributes(typeof(Microsoft.Azure.Functions.Worker.HttpTriggerAttribute), false))
                .Cast<Microsoft.Azure.Functions.Worker.HttpTriggerAttribute>().Single().AuthLevel;

        Assert.Equal(level, Level(typeof(LicenseEndpoints), method));
        Assert.Equal(Microsoft.Azure.Functions.Worker.AuthorizationLevel.Admin, Level(typeof(LicenseAdmin), nameof(LicenseAdmin.Get)));
        Assert.Equal(Microsoft.Azure.Functions.Worker.AuthorizationLevel.Admin, Level(typeof(LicenseAdmin), nameof(LicenseAdmin.Upload)));
    }

    [Fact]
    public async Task The_merchants_systems_are_told_of_each_change_once_through_the_tenant_seam()
    {
        await using var market = await StartAsync(webhook: true);
        var queue = market.App.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(market.App.Settings["KooGalleryLicenseQueue"]);
        await Refresh(market, "PLHOOK01");
        await market.CallAsync("updateLicenseCodeStatus", new { license = "PLHOOK01", status = "FREEZE" });

        foreach (var message in (await queue.ReceiveMessagesAsync(10)).Value)
        {
            await market.App.Function<NotifyLicenseChange>().Run(message, CancellationToken.None);
        }

        var told = Assert.Single(market.TenantApi!.Events);
        Assert.Equal(("license.frozen", "PLHOOK01:license.frozen:v2"), (told.Event, told.IdempotencyKey));
        Assert.Equal("frozen", told.Body["data"]!["status"]!.GetValue<string>());
        Assert.Equal("20301231235959", told.Body["data"]!["expireTime"]!.GetValue<string>());
        Assert.False((await Stored(market, "PLHOOK01"))!.NotifyPending);
    }

    [Fact]
    public async Task A_tenant_api_that_is_down_is_retried_and_the_sweeper_brings_back_a_lost_notification()
    {
        await using var market = await StartAsync(webhook: true);
        market.TenantApi!.Faults.Enqueue(new Fault.ServerError(503), times: 2); // one call: the attempt and its retry
        await Refresh(market, "PLHOOK02");
        var notifier = market.App.Services.GetRequiredService<LicenseNotifier>();

        await notifier.ProcessAsync("PLHOOK02", CancellationToken.None);
        var failing = (await Stored(market, "PLHOOK02"))!;
        Assert.Equal((true, 1), (failing.NotifyPending, failing.NotifyFailures));
        Assert.Contains("503", failing.NotifyError, StringComparison.Ordinal);

        await market.App.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(market.App.Settings["KooGalleryLicenseQueue"]).ClearMessagesAsync();
        market.App.Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(1, await notifier.SweepAsync(CancellationToken.None));
        await notifier.ProcessAsync("PLHOOK02", CancellationToken.None);

        Assert.False((await Stored(market, "PLHOOK02"))!.NotifyPending);
        Assert.Equal("license.refreshed", Assert.Single(market.TenantApi.Events).Event);
    }

    [Fact]
    public async Task Activation_records_who_and_when_and_the_same_account_and_machine_again_is_not_an_error()
    {
        await using var market = await StartAsync();

        var (status, first) = await Activate(market, new { license = "PLMOCK0001", account = "alice", machine = "m-1" });
        var (againStatus, again) = await Activate(market, new { license = "PLMOCK0001", account = "alice", machine = "m-1" });

        Assert.Equal((200, 200), (status, againStatus));
        Assert.True(first.GetProperty("activated").GetBoolean());
        Assert.True(again.GetProperty("again").GetBoolean());
        Assert.Equal(1, market.OpenApi.License("PLMOCK0001")!.Activations);
        var license = (await Stored(market, "PLMOCK0001"))!;
        Assert.Equal(("alice", "m-1", market.App.Clock.GetUtcNow()), (license.ActivatedAccount, license.ActivatedMachine, license.ActivatedAt!.Value));
    }

    [Fact]
    public async Task Koogalleys_refusal_is_passed_on_and_an_outage_is_a_503_to_try_again()
    {
        await using var market = await StartAsync();

        var (refusedStatus, refused) = await Activate(market, new { license = "PLNOSUCH", account = "a" });
        market.OpenApi.Faults.Enqueue(new Fault.ServerError(503), times: 10);
        var (downStatus, down) = await Activate(market, new { license = "PLMOCK0002" });
        var (badStatus, _) = await Activate(market, new { account = "a" });

        Assert.Equal(409, refusedStatus);
        Assert.Contains("does not exist", refused.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(503, downStatus);
        Assert.Contains("could not be reached", down.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(400, badStatus);
    }

    [Fact]
    public async Task The_check_asks_koogallery_at_most_once_a_day_and_at_once_after_a_renewal()
    {
        await using var market = await StartAsync();
        var emulated = market.OpenApi.AddLicense("PLDAILY01", expiresAt: market.App.Clock.GetUtcNow().AddDays(30));

        var first = await Check(market, "PLDAILY01");
        market.App.Clock.Advance(TimeSpan.FromHours(23));
        var sameDay = await Check(market, "PLDAILY01");
        Assert.Equal(1, emulated.Queries);
        Assert.True(first.Allowed);
        Assert.Equal(TimeSpan.FromHours(23).TotalSeconds, sameDay.AgeSeconds);

        market.App.Clock.Advance(TimeSpan.FromHours(2));
        await Check(market, "PLDAILY01");
        Assert.Equal(2, emulated.Queries);

        emulated.ExpiresAt = market.App.Clock.GetUtcNow().AddDays(400);
        await Refresh(market, "PLDAILY01", "CS-RENEW-DAILY", expireTime: emulated.ExpiresAt.ToOffset(TimeSpan.FromHours(8)).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture));
        var renewed = await Check(market, "PLDAILY01");
        Assert.Equal(3, emulated.Queries);
        Assert.Equal(emulated.ExpiresAt.ToUnixTimeSeconds(), renewed.ExpiresAt!.Value.ToUnixTimeSeconds());
    }

    [Fact]
    public async Task When_koogallery_is_unreachable_the_stored_answer_stands_with_its_age()
    {
        await using var market = await StartAsync();
        await Check(market, "PLMOCK0003");
        market.App.Clock.Advance(TimeSpan.FromDays(2));
        market.OpenApi.Faults.OutageUntil(market.App.Clock, market.App.Clock.GetUtcNow().AddDays(1), new Fault.ServerError(503));

        var verdict = await Check(market, "PLMOCK0003");
        var unknown = await Check(market, "PLMOCKNEVERSEEN");

        Assert.True(verdict.Allowed);
        Assert.True(verdict.Stale);
        Assert.Equal(TimeSpan.FromDays(2).TotalSeconds, verdict.AgeSeconds);
        Assert.False(unknown.Allowed);
        Assert.Contains("could not be reached", unknown.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Frozen_released_unknown_and_expired_licences_are_refused_with_a_reason_and_a_renewal_link()
    {
        await using var market = await StartAsync();
        await Refresh(market, "PLMOCK0004");
        await market.CallAsync("releaseLicenseCode", new { license = "PLMOCK0004" });

        var frozen = await Check(market, "PLMOCKFROZEN01");
        var expired = await Check(market, "PLMOCKEXPIRED01");
        var released = await Check(market, "PLMOCK0004");
        var unknown = await Check(market, "PLNOSUCH02");

        Assert.Equal([(false, "frozen"), (false, "expired"), (false, "released"), (false, "refused")], new[] { frozen, expired, released, unknown }.Select(v => (v.Allowed, v.Status)));
        Assert.Contains("frozen", frozen.Reason, StringComparison.Ordinal);
        Assert.Contains("expired on", expired.Reason, StringComparison.Ordinal);
        Assert.Contains("released", released.Reason, StringComparison.Ordinal);
        Assert.Contains("does not accept", unknown.Reason, StringComparison.Ordinal);
        Assert.Equal("https://marketplace.example.com/renew/PLMOCKFROZEN01", frozen.RenewUrl);
        Assert.Equal("https://marketplace.huaweicloud.com/", unknown.RenewUrl);
    }

    [Fact]
    public async Task A_licence_expires_at_the_exact_instant_its_expire_time_means_in_beijing_time()
    {
        await using var market = await StartAsync();
        var expiresAt = new DateTimeOffset(market.App.Clock.GetUtcNow().AddDays(3).UtcDateTime.Date, TimeSpan.Zero).AddHours(4); // 12:00 +08:00
        market.OpenApi.AddLicense("PLEDGE01", expiresAt: expiresAt);
        await Refresh(market, "PLEDGE01", expireTime: expiresAt.ToOffset(TimeSpan.FromHours(8)).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture));
        await Check(market, "PLEDGE01");

        market.App.Clock.SetUtcNow(expiresAt.AddSeconds(-1));
        var before = await Check(market, "PLEDGE01");
        market.App.Clock.SetUtcNow(expiresAt);
        var at = await Check(market, "PLEDGE01");

        Assert.True(before.Allowed);
        Assert.False(at.Allowed);
        Assert.Equal("expired", at.Status);
    }

    [Fact]
    public async Task The_batch_query_and_a_market_event_upload_go_through_the_signed_client()
    {
        await using var market = await StartAsync();
        var api = market.App.Services.GetRequiredService<KooGalleryOpenApi>();

        var batch = await api.QueryLicensesAsync(["PLMOCK0005", "PLMOCKFROZEN05", "PLNOSUCH"], CancellationToken.None);
        var frozen = LicenseAnswer.Read(batch, "PLMOCKFROZEN05", TimeSpan.FromHours(8));
        await api.UploadMarketEventAsync(MarketEventUpload.Text("EV-1", "hello, 云商店"), CancellationToken.None);
        await api.UploadMarketEventAsync(MarketEventUpload.Stream("EV-2", [1, 2, 3], "report.bin"), CancellationToken.None);

        Assert.Equal(LicenseStatus.Frozen, frozen.Status);
        Assert.Equal([("EV-1", "CHARACTERS", "hello, 云商店"), ("EV-2", "FILE", null)], market.OpenApi.MarketEvents.Select(e => (e.EventId, e.Type, e.Content)));
        Assert.Equal([1, 2, 3], market.OpenApi.MarketEvents[1].File);
    }

    [Fact]
    public async Task Operators_read_a_licence_with_its_event_log_and_upload_a_market_event()
    {
        await using var market = await StartAsync();
        await Refresh(market, "PLMOCK0006");
        await Activate(market, new { license = "PLMOCK0006", account = "bob" });
        var admin = market.App.Function<LicenseAdmin>();

        var found = JsonSerializer.Serialize(((OkObjectResult)await admin.Get(new DefaultHttpContext().Request, "PLMOCK0006", CancellationToken.None)).Value);
        var upload = new DefaultHttpContext();
        upload.Request.Method = "POST";
        upload.Request.Body = new MemoryStream(Encoding.UTF8.GetBytes("event text"));
        var uploaded = await admin.Upload(upload.Request, "EV-OPS", CancellationToken.None);

        Assert.Contains("\"Kind\":\"activated\"", found, StringComparison.Ordinal);
        Assert.Contains("\"Activity\":\"refreshLicenseCode\"", found, StringComparison.Ordinal);
        Assert.IsType<OkObjectResult>(uploaded);
        Assert.Equal("event text", Assert.Single(market.OpenApi.MarketEvents).Content);
        Assert.IsType<NotFoundObjectResult>(await admin.Get(new DefaultHttpContext().Request, "PLNONE", CancellationToken.None));
    }
}
