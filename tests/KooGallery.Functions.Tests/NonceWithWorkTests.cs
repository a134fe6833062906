using System.Text;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.Signing;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

/// <summary>
/// The instance callbacks record their nonce beside their reads and keep their answer in the transaction of their
/// work (docs/lifecycle.md, "Replay protection and exact resends"): replay protection and exact resends must hold
/// as they did when the nonce and the answer were written one after the other.
/// </summary>
public class NonceWithWorkTests
{
    private static TableClient Instances(LocalMarketplace market) =>
        market.App.Services.GetRequiredService<TableServiceClient>().GetTableClient(market.App.Settings["Storage:InstanceTable"]);

    private static TableClient Nonces(LocalMarketplace market) =>
        market.App.Services.GetRequiredService<TableServiceClient>().GetTableClient(market.App.Settings["Storage:NonceTable"]);

    private static string Freeze(string id) => $$"""{"activity":"updateInstanceStatus","instanceId":"{{id}}","status":"FREEZE","testFlag":"1"}""";

    private static async Task<int> FreezesRecordedAsync(LocalMarketplace market, string id) =>
        (await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(id, CancellationToken.None))
        .Count(e => e.Activity == "updateInstanceStatus" && e.Kind == "callback");

    [Fact]
    public async Task A_nonce_used_again_for_another_instance_answers_000001_and_that_instance_records_nothing()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var a = await market.NewInstanceAsync("CS-NW-A");
        var b = await market.NewInstanceAsync("CS-NW-B");
        await market.DrainAsync();
        var nonce = Nonce.New();

        var first = await SignedCall.SendSignedAsync(market.App, Freeze(a), nonce: nonce);
        var again = await SignedCall.SendSignedAsync(market.App, Freeze(b), nonce: nonce);
        var created = await SignedCall.SendSignedAsync(market.App, """{"activity":"newInstance","businessId":"b-x","orderId":"CS-NW-C","orderLineId":"CS-NW-C-000001","testFlag":"1"}""", nonce: nonce);

        Assert.Equal(("000000", "000001", "000001"), (first.ResultCode, again.ResultCode, created.ResultCode));
        Assert.Equal(1, await FreezesRecordedAsync(market, a));
        Assert.Equal(0, await FreezesRecordedAsync(market, b));
        Assert.Empty(await market.App.Services.GetRequiredService<InstanceRepository>().ChangesAsync(b, CancellationToken.None));
        Assert.Empty(await market.App.Services.GetRequiredService<InstanceRepository>().FindByOrderAsync("CS-NW-C", CancellationToken.None));
    }

    [Fact]
    public async Task The_answer_is_kept_sealed_beside_the_work_resent_byte_for_byte_and_purged_with_its_nonce()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("CS-NW-KEEP");
        await market.DrainAsync();
        var nonce = Nonce.New();
        var at = market.App.Clock.GetUtcNow();

        var first = await SignedCall.SendSignedAsync(market.App, Freeze(id), nonce: nonce, at: at);
        var kept = await Instances(market).GetEntityAsync<TableEntity>(InstanceKeys.Escape(id), NonceStore.AnswerRowKey(nonce));
        var nonceRow = await Nonces(market).GetEntityAsync<NonceEntity>(nonce, "nonce");
        var resend = await SignedCall.SendSignedAsync(market.App, Freeze(id), nonce: nonce, at: at);

        Assert.Equal(first.Text, resend.Text);
        Assert.Equal(first.BodySign, resend.BodySign);
        Assert.Equal(1, await FreezesRecordedAsync(market, id));
        Assert.Null(nonceRow.Value.SealedAnswer);
        Assert.Equal(InstanceKeys.Escape(id), nonceRow.Value.AnswerPartition);
        var sealedAnswer = kept.Value.GetBinary(nameof(NonceEntity.SealedAnswer));
        Assert.DoesNotContain("resultCode", Encoding.UTF8.GetString(sealedAnswer), StringComparison.Ordinal);

        market.App.Clock.Advance(TimeSpan.FromHours(1));
        Assert.True(await market.App.Services.GetRequiredService<NonceStore>().PurgeExpiredAsync(CancellationToken.None) >= 1);
        Assert.False((await Instances(market).GetEntityIfExistsAsync<TableEntity>(InstanceKeys.Escape(id), NonceStore.AnswerRowKey(nonce))).HasValue);
        Assert.False((await Nonces(market).GetEntityIfExistsAsync<TableEntity>(nonce, "nonce")).HasValue);
        Assert.NotNull(await market.InstanceAsync(id));
    }

    [Fact]
    public async Task A_new_instance_resent_is_answered_from_the_kept_answer_without_a_second_insert()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var body = """{"activity":"newInstance","businessId":"b-1","orderId":"CS-NW-NEW","orderLineId":"CS-NW-NEW-000001","testFlag":"0"}""";
        var nonce = Nonce.New();
        var at = market.App.Clock.GetUtcNow();

        var first = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);
        var queued = await market.QueuedAsync();
        var resend = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);

        Assert.Equal("000000", first.ResultCode);
        Assert.Equal(first.Text, resend.Text);
        Assert.Equal(queued, await market.QueuedAsync());
        var instance = Assert.Single(await market.App.Services.GetRequiredService<InstanceRepository>().FindByOrderAsync("CS-NW-NEW", CancellationToken.None));
        Assert.Single(await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(instance.InstanceId, CancellationToken.None));
    }

    [Fact]
    public async Task When_the_work_cannot_be_handed_over_after_its_transaction_the_kept_answer_is_withdrawn_and_a_resend_is_processed()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("CS-NW-WITHDRAW");
        await market.DrainAsync();
        var tables = market.App.Services.GetRequiredService<TableServiceClient>();
        await market.WorkQueue.DeleteAsync();
        await tables.DeleteTableAsync(market.App.Settings["Storage:ScheduleTable"]);
        var nonce = Nonce.New();
        var at = market.App.Clock.GetUtcNow();

        var first = await SignedCall.SendSignedAsync(market.App, Freeze(id), nonce: nonce, at: at);

        Assert.Equal("000005", first.ResultCode);
        Assert.False((await Instances(market).GetEntityIfExistsAsync<TableEntity>(InstanceKeys.Escape(id), NonceStore.AnswerRowKey(nonce))).HasValue);

        await market.WorkQueue.CreateAsync();
        await tables.CreateTableIfNotExistsAsync(market.App.Settings["Storage:ScheduleTable"]);
        var resend = await SignedCall.SendSignedAsync(market.App, Freeze(id), nonce: nonce, at: at);
        Assert.Equal("000000", resend.ResultCode);
        Assert.True(await market.QueuedAsync() >= 1);
        await market.DrainAsync();
        Assert.Equal(nameof(InstanceState.Frozen), (await market.InstanceAsync(id))!.State);
    }

    [Fact]
    public async Task When_a_write_beside_the_transaction_fails_the_kept_answer_is_withdrawn_and_a_resend_completes_the_order()
    {
        var outage = new StorageOutage();
        await using var market = await LocalMarketplace.StartAsync(services: outage.FailIn);
        var body = """{"activity":"newInstance","businessId":"b-1","orderId":"CS-NW-INDEX","orderLineId":"CS-NW-INDEX-000001","testFlag":"0"}""";
        var nonce = Nonce.New();
        var at = market.App.Clock.GetUtcNow();
        var id = InstanceKeys.InstanceId("CS-NW-INDEX", "CS-NW-INDEX-000001", null);

        // The order's index row cannot be written; the instance's own transaction goes in.
        outage.Arm(m => Uri.UnescapeDataString(m.Request.Uri.Path).Contains(InstanceKeys.OrderIndex("CS-NW-INDEX"), StringComparison.Ordinal));
        var first = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);
        outage.Disarm();

        Assert.Equal("000005", first.ResultCode);
        Assert.NotNull(await market.InstanceAsync(id));
        Assert.False((await Instances(market).GetEntityIfExistsAsync<TableEntity>(InstanceKeys.Escape(id), NonceStore.AnswerRowKey(nonce))).HasValue);

        // KooGallery resends: processed again, so the index row is written this time and the order is found.
        var resend = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);
        Assert.Equal("000000", resend.ResultCode);
        Assert.Equal(id, Assert.Single(await market.App.Services.GetRequiredService<InstanceRepository>().FindByOrderAsync("CS-NW-INDEX", CancellationToken.None)).InstanceId);
    }

    [Fact]
    public async Task A_message_that_overtakes_its_callbacks_write_is_put_back_once_and_then_does_the_work()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var worker = market.App.Services.GetRequiredService<LifecycleWorker>();
        var id = InstanceKeys.InstanceId("CS-NW-AHEAD", "CS-NW-AHEAD-000001", null);

        await worker.ProcessAsync(new LifecycleWork(id, WorkKinds.Provision, Ahead: true), 1, CancellationToken.None);
        var putBack = await market.WorkQueue.ReceiveMessageAsync();
        Assert.Equal(new LifecycleWork(id, WorkKinds.Provision, Ahead: false), LifecycleWork.FromQueueBody(putBack.Value.Body));

        // Without the flag, a message for nothing ends there.
        await worker.ProcessAsync(new LifecycleWork(id, WorkKinds.Provision), 1, CancellationToken.None);
        await market.WorkQueue.DeleteMessageAsync(putBack.Value.MessageId, putBack.Value.PopReceipt);
        Assert.Equal(0, await market.QueuedAsync());

        // The write lands; the put-back message finds it and provisions.
        Assert.Equal(id, await market.NewInstanceAsync("CS-NW-AHEAD"));
        await market.WorkQueue.ClearMessagesAsync();
        await worker.ProcessAsync(new LifecycleWork(id, WorkKinds.Provision, Ahead: false), 1, CancellationToken.None);
        Assert.Equal(nameof(InstanceState.Ready), (await market.InstanceAsync(id))!.State);
    }
}
