using System.Security.Cryptography;
using CsCheck;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Instances;
using KooGallery.Functions.JointOperation;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.Crypto;
using KooGallery.Protocol.Signing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

/// <summary>The joint-operation kit syncs (§3.2, §4.5, §5.10) on real Azurite, signed with the kit Key.</summary>
public class KitSyncTests
{
    private static readonly RSA MerchantKey = RSA.Create(3072);

    private static Task<LocalMarketplace> StartAsync() =>
        LocalMarketplace.StartAsync(s => s["JointOperation:RsaPrivateKey"] = MerchantKey.ExportPkcs8PrivateKeyPem());

    internal static async Task<CallbackReply> SyncAsync(TestApp app, string sync, string body, string? key = null, DateTimeOffset? at = null, bool sign = true)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var signed = KitSignature.Sign(key ?? TestApp.KitKey, bytes, at ?? app.Clock.GetUtcNow());
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.ContentType = "application/json";
        context.Request.Body = new MemoryStream(bytes);
        context.Request.ContentLength = bytes.Length;
        if (sign)
        {
            context.Request.Headers[KitSignature.SignHeader] = signed.Signature;
        }

        context.Request.Headers[KitSignature.TimestampHeader] = signed.Timestamp;
        context.Request.Headers[KitSignature.NonceHeader] = signed.Nonce;
        context.Response.Body = new MemoryStream();
        var result = await app.Function<KitSyncInterface>().Run(context.Request, sync, CancellationToken.None);
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
        return new CallbackReply(context.Response.StatusCode, ((MemoryStream)context.Response.Body).ToArray(),
            context.Response.Headers.TryGetValue(BodySign.HeaderName, out var s) ? s.ToString() : null, context.Response.ContentType);
    }

    private static string Tenant(string instanceId, int flag = 1) =>
        $$"""{"domainName":"https://example.tenantaccount.com","flag":{{flag}},"instanceId":"{{instanceId}}","name":"huaiweitest","orderId":"CS1906666666ABCDE","tenantCode":"huawei","tenantId":"68cbc86880d92f36422fa0e","testFlag":0,"timeStamp":"20220413093539534"}""";

    private static KitSyncService Kit(LocalMarketplace market) => market.App.Services.GetRequiredService<KitSyncService>();

    [Fact]
    public async Task A_tenant_sync_is_stored_once_lands_in_the_instance_log_and_flag_0_deletes_it()
    {
        await using var market = await StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");

        var first = await SyncAsync(market.App, "tenantSync", Tenant(id));
        var again = await SyncAsync(market.App, "tenantSync", Tenant(id));

        Assert.Equal(("000000", "000000", 200), (first.ResultCode, again.ResultCode, first.StatusCode));
        Assert.True(BodySign.Verify(TestApp.KitKey, first.BodySign, first.Body));
        var tenant = (await Kit(market).TenantAsync("68cbc86880d92f36422fa0e", CancellationToken.None))!;
        Assert.Equal(("huawei", "https://example.tenantaccount.com", id, false), (tenant.TenantCode, tenant.DomainName, tenant.InstanceId, tenant.Deleted));
        var events = await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(id, CancellationToken.None);
        Assert.Equal(2, events.Count(e => e.Kind == "kit-sync" && e.Activity == "tenantSync"));

        Assert.Equal("000000", (await SyncAsync(market.App, "tenantSync", Tenant(id, flag: 0))).ResultCode);
        Assert.True((await Kit(market).TenantAsync("68cbc86880d92f36422fa0e", CancellationToken.None))!.Deleted);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task An_application_secret_is_decrypted_with_oaep_sha256_or_sha1_and_kept_encrypted_at_rest(bool sha256)
    {
        await using var market = await StartAsync();
        var secret = "client-secret-" + Guid.NewGuid().ToString("N");
        var encrypted = ClientSecretCipher.Encrypt(MerchantKey, secret, sha256);

        var reply = await SyncAsync(market.App, "applicationSync", $$"""{"clientId":"app-client-1","clientSecret":"{{encrypted}}","flag":1,"instanceId":"i-1","tenantId":"T1","testFlag":0}""");

        Assert.Equal("000000", reply.ResultCode);
        Assert.Equal(secret, await Kit(market).ClientSecretAsync("T1", "app-client-1", CancellationToken.None));
        var rows = await market.App.Services.GetRequiredService<TableServiceClient>().GetTableClient(market.App.Settings["Storage:JointTable"]).QueryAsync<TableEntity>().ToListAsync();
        Assert.DoesNotContain(secret, JsonSerializer.Serialize(rows.Select(r => r.ToDictionary(kv => kv.Key, kv => kv.Value?.ToString()))), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bm90IGVuY3J5cHRlZA==")]
    [InlineData("not base64 at all")]
    public async Task An_application_secret_that_cannot_be_decrypted_answers_000101(string encrypted)
    {
        await using var market = await StartAsync();

        var reply = await SyncAsync(market.App, "applicationSync", $$"""{"clientId":"c","clientSecret":"{{encrypted}}","flag":1,"tenantId":"T1","testFlag":0}""");

        Assert.Equal("000101", reply.ResultCode);
        Assert.Null(await Kit(market).ClientSecretAsync("T1", "c", CancellationToken.None));
    }

    [Fact]
    public async Task A_plain_http_identity_domain_is_refused_outside_local_development()
    {
        await using var market = await LocalMarketplace.StartAsync(s => s["JointOperation:AllowHttpIdentityDomains"] = "false");
        var http = Tenant("i-http").Replace("https://example.tenantaccount.com", "http://example.tenantaccount.com", StringComparison.Ordinal);

        var refused = await SyncAsync(market.App, "tenantSync", http);
        var taken = await SyncAsync(market.App, "tenantSync", Tenant("i-https"));

        Assert.Equal("000002", refused.ResultCode);
        Assert.Contains("https", refused.Text, StringComparison.Ordinal);
        Assert.Equal("000000", taken.ResultCode);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("not a pem key")]
    public async Task A_missing_or_broken_private_key_answers_000005_so_the_sync_succeeds_once_the_key_is_set(string? key)
    {
        await using var market = await LocalMarketplace.StartAsync(s => s["JointOperation:RsaPrivateKey"] = key);
        var encrypted = ClientSecretCipher.Encrypt(MerchantKey, "s3cret", sha256: true);

        var reply = await SyncAsync(market.App, "applicationSync", $$"""{"clientId":"c-nokey","clientSecret":"{{encrypted}}","flag":1,"tenantId":"T1","testFlag":0}""");

        Assert.Equal("000005", reply.ResultCode);
    }

    /// <summary>
    /// Generated kit syncs (awkward ids, times, flags, types, missing fields) against the real app: every answer is
    /// signed with the kit Key, parseable, and never 000005 — input that can never succeed is never "retry".
    /// </summary>
    [Fact]
    public async Task Fuzzed_kit_syncs_always_get_a_signed_answer_and_never_000005_while_storage_is_up()
    {
        await using var market = await StartAsync();
        string[] syncs = ["tenantSync", "applicationSync", "authSync", "singleOrgSync", "allOrgSync"];
        string[] names = ["instanceId", "orderId", "tenantId", "tenantCode", "name", "domainName", "flag", "testFlag", "timeStamp", "clientId", "clientSecret", "userName", "role", "orgCode", "orgName", "parentCode", "orgList", "userList"];
        var encrypted = ClientSecretCipher.Encrypt(MerchantKey, "s3cret", sha256: true);
        var value = CsCheck.Gen.OneOf(
            CsCheck.Gen.OneOf(new[] { "\"a/b#c?d\\\\e%f\"", "\"PL\\u0001x\"", "\"\"", "\"https://tenant.example.com\"", "\"http://tenant.example.com\"", "\"ftp://x\"", "\"20220413093539534\"", "\"00010101000000\"", $"\"{encrypted}\"", "\"bm90IGVuY3J5cHRlZA==\"", "\"华为云\"", $"\"{new string('x', 300)}\"" }.Select(CsCheck.Gen.Const).ToArray()),
            CsCheck.Gen.OneOf(new[] { "0", "1", "2", "-1", "1e400", "true", "null", "[]", "{}", "[{\"orgCode\":\"a/b\",\"orgName\":\"n\"}]", "[{\"userName\":\"u#1\",\"role\":\"admin\"}]" }.Select(CsCheck.Gen.Const).ToArray()));
        var field = CsCheck.Gen.Select(CsCheck.Gen.OneOf(names.Select(CsCheck.Gen.Const).ToArray()), value, (n, v) => $"\"{n}\":{v}");
        var call = CsCheck.Gen.Select(CsCheck.Gen.OneOf(syncs.Select(CsCheck.Gen.Const).ToArray()), field.Array[0, 10], (sync, fields) => (Sync: sync, Body: "{" + string.Join(',', fields.DistinctBy(f => f[..f.IndexOf(':', StringComparison.Ordinal)])) + "}"));

        await call.SampleAsync(
            async c =>
            {
                var reply = await SyncAsync(market.App, c.Sync, c.Body);

                Assert.Equal(200, reply.StatusCode);
                Assert.True(BodySign.Verify(TestApp.KitKey, reply.BodySign, reply.Body), "Body-Sign does not verify");
                Assert.Contains(reply.ResultCode, new[] { "000000", "000001", "000002", "000003", "000101" });
            },
            iter: LongerHunt.Iterations(400),
            threads: 4,
            print: c => c.Sync + " " + c.Body);
    }

    [Fact]
    public async Task Users_are_authorised_and_revoked_idempotently()
    {
        await using var market = await StartAsync();
        var body = """{"appId":"A1","instanceId":"i-2","tenantId":"T2","testFlag":0,"userList":[{"userName":"alice","name":"Alice","flag":1},{"userName":"bob","flag":1}]}""";

        Assert.Equal("000000", (await SyncAsync(market.App, "authSync", body)).ResultCode);
        Assert.Equal("000000", (await SyncAsync(market.App, "authSync", body)).ResultCode);
        Assert.Equal("000000", (await SyncAsync(market.App, "authSync", """{"flag":0,"instanceId":"i-2","tenantId":"T2","testFlag":0,"userName":"bob"}""")).ResultCode);
        Assert.Equal("000000", (await SyncAsync(market.App, "authSync", """{"flag":0,"instanceId":"i-2","tenantId":"T2","testFlag":0,"userName":"bob"}""")).ResultCode);

        var alice = await Kit(market).GrantAsync("T2", "alice", "i-2", CancellationToken.None);
        Assert.Equal(("Alice", "i-2"), (alice!.Name, alice.InstanceId));
        Assert.Null(await Kit(market).GrantAsync("T2", "bob", "i-2", CancellationToken.None));
    }

    [Fact]
    public async Task A_user_is_authorised_per_instance_and_a_revocation_in_one_leaves_the_others()
    {
        await using var market = await StartAsync();
        var kit = Kit(market);
        foreach (var instance in new[] { "i-a", "i-b" })
        {
            Assert.Equal("000000", (await SyncAsync(market.App, "authSync", $$"""{"flag":1,"instanceId":"{{instance}}","tenantId":"T5","testFlag":0,"userName":"alice"}""")).ResultCode);
        }

        Assert.Equal("000000", (await SyncAsync(market.App, "authSync", """{"flag":0,"instanceId":"i-a","tenantId":"T5","testFlag":0,"userName":"alice"}""")).ResultCode);

        Assert.Null(await kit.GrantAsync("T5", "alice", "i-a", CancellationToken.None));
        Assert.Equal("i-b", (await kit.GrantAsync("T5", "alice", "i-b", CancellationToken.None))!.InstanceId);
        Assert.Equal(["i-b"], (await kit.GrantsAsync("T5", "alice", CancellationToken.None)).Select(g => g.InstanceId));

        // A user whose name runs into another's ("alice|i-b") is someone else.
        Assert.Empty(await kit.GrantsAsync("T5", "alic", CancellationToken.None));
        Assert.Empty(await kit.GrantsAsync("T5", "alice|i-b", CancellationToken.None));
    }

    [Fact]
    public async Task A_whole_tree_sync_replaces_the_tree_and_single_syncs_change_the_live_one()
    {
        await using var market = await StartAsync();
        var kit = Kit(market);
        Assert.Equal("000000", (await SyncAsync(market.App, "allOrgSync", """{"instanceId":"i-3","orgList":[{"orgCode":"root","orgName":"HQ"},{"orgCode":"sales","orgName":"Sales","parentCode":"root"}],"tenantId":"T3","testFlag":0}""")).ResultCode);
        Assert.Equal("000000", (await SyncAsync(market.App, "singleOrgSync", """{"flag":1,"instanceId":"i-3","orgCode":"ops","orgName":"Ops","parentCode":"root","tenantId":"T3","testFlag":0}""")).ResultCode);
        Assert.Equal("000000", (await SyncAsync(market.App, "singleOrgSync", """{"flag":0,"instanceId":"i-3","orgCode":"sales","tenantId":"T3","testFlag":0}""")).ResultCode);
        Assert.Equal(["ops", "root"], (await kit.OrgTreeAsync("T3", CancellationToken.None)).Select(o => o.OrgCode).Order());

        Assert.Equal("000000", (await SyncAsync(market.App, "allOrgSync", """{"instanceId":"i-3","orgList":[{"orgCode":"root2","orgName":"New HQ"}],"tenantId":"T3","testFlag":0}""")).ResultCode);

        Assert.Equal(["root2"], (await kit.OrgTreeAsync("T3", CancellationToken.None)).Select(o => o.OrgCode));
        var rows = await market.App.Services.GetRequiredService<TableServiceClient>().GetTableClient(market.App.Settings["Storage:JointTable"]).QueryAsync<TableEntity>(e => e.RowKey.CompareTo("org|") >= 0 && e.RowKey.CompareTo("org}") < 0).ToListAsync();
        Assert.Single(rows); // the old tree is gone
    }

    [Fact]
    public async Task The_merchants_systems_hear_of_each_sync_once_through_the_tenant_seam()
    {
        await using var market = await LocalMarketplace.StartAsync(webhookTenants: true);
        var queue = market.App.Services.GetRequiredService<Azure.Storage.Queues.QueueServiceClient>().GetQueueClient(market.App.Settings["KooGalleryKitQueue"]);
        async Task DrainAsync()
        {
            while ((await queue.ReceiveMessagesAsync(32)).Value is { Length: > 0 } messages)
            {
                foreach (var message in messages)
                {
                    await market.App.Function<NotifyKitSync>().Run(message, CancellationToken.None);
                    await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                }
            }
        }

        var auth = """{"instanceId":"i-6","tenantId":"T6","testFlag":0,"userList":[{"userName":"alice","flag":1},{"userName":"bob","flag":0}]}""";
        await SyncAsync(market.App, "tenantSync", Tenant("i-6"));
        await SyncAsync(market.App, "authSync", auth);
        await SyncAsync(market.App, "allOrgSync", """{"instanceId":"i-6","orgList":[{"orgCode":"root"}],"tenantId":"T6","testFlag":0}""");
        await DrainAsync();
        await SyncAsync(market.App, "authSync", auth); // KooGallery syncs the same again
        await DrainAsync();

        var told = market.TenantApi!.Events;
        Assert.Equal(["org.synced", "tenant.synced", "user.authorised", "user.revoked"], told.Select(e => e.Event).Order(StringComparer.Ordinal));
        Assert.Equal("alice", told.Single(e => e.Event == "user.authorised").Body["data"]!["userName"]!.GetValue<string>());
        Assert.Equal("i-6", told.Single(e => e.Event == "tenant.synced").Body["instanceId"]!.GetValue<string>());
    }

    public static TheoryData<string, string> EachSync => new()
    {
        { "tenantSync", Tenant("i-4") },
        { "applicationSync", """{"clientId":"c","clientSecret":"x","flag":1,"tenantId":"68cbc86880d92f36422fa0e","testFlag":0}""" },
        { "authSync", """{"flag":1,"tenantId":"68cbc86880d92f36422fa0e","testFlag":0,"userName":"alice"}""" },
        { "singleOrgSync", """{"flag":1,"orgCode":"o","tenantId":"68cbc86880d92f36422fa0e","testFlag":0}""" },
        { "allOrgSync", """{"orgList":[{"orgCode":"o"}],"tenantId":"68cbc86880d92f36422fa0e","testFlag":0}""" },
    };

    [Theory]
    [MemberData(nameof(EachSync))]
    public async Task A_bad_x_sign_a_missing_one_the_basic_key_and_a_stale_timestamp_are_refused_and_change_nothing(string sync, string body)
    {
        await using var market = await StartAsync();

        var wrong = await SyncAsync(market.App, sync, body, key: "some-other-key");
        var basicKey = await SyncAsync(market.App, sync, body, key: TestApp.Key);
        var missing = await SyncAsync(market.App, sync, body, sign: false);
        var stale = await SyncAsync(market.App, sync, body, at: market.App.Clock.GetUtcNow().AddMinutes(-2));

        Assert.Equal(["000001", "000001", "000001", "000002"], new[] { wrong, basicKey, missing, stale }.Select(r => r.ResultCode));
        Assert.All(new[] { wrong, basicKey, missing, stale }, r => Assert.True(BodySign.Verify(TestApp.KitKey, r.BodySign, r.Body)));
        Assert.Empty(await market.App.Services.GetRequiredService<TableServiceClient>().GetTableClient(market.App.Settings["Storage:JointTable"]).QueryAsync<TableEntity>().ToListAsync());
    }

    [Fact]
    public async Task An_unknown_sync_a_bad_field_and_a_basic_call_naming_a_kit_activity_answer_000002()
    {
        await using var market = await StartAsync();

        var unknown = await SyncAsync(market.App, "memberSync", Tenant("i-5"));
        var badFlag = await SyncAsync(market.App, "tenantSync", Tenant("i-5").Replace("\"flag\":1", "\"flag\":7", StringComparison.Ordinal));
        var badDomain = await SyncAsync(market.App, "tenantSync", Tenant("i-5").Replace("https://example.tenantaccount.com", "/relative", StringComparison.Ordinal));
        var smuggled = await SignedCall.SendSignedAsync(market.App, """{"activity":"kit:tenantSync","tenantId":"T","tenantCode":"c","name":"n","domainName":"https://d.example.com","flag":1}""");

        Assert.Equal(["000002", "000002", "000002", "000002"], new[] { unknown, badFlag, badDomain, smuggled }.Select(r => r.ResultCode));
        Assert.Contains("flag", badFlag.ResultMsg, StringComparison.Ordinal);
        Assert.Contains("domainName", badDomain.ResultMsg, StringComparison.Ordinal);
    }
}
