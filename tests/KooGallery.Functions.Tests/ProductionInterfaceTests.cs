using KooGallery.Functions.Instances;
using System.Text;
using Azure.Data.Tables;
using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol;
using KooGallery.Protocol.Signing;
using KooGallery.Protocol.Wire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace KooGallery.Functions.Tests;

/// <summary>The production interface end to end: real signed HTTP requests, real Azurite storage.</summary>
public class ProductionInterfaceTests
{
    private const string FreezeBody = """{"activity":"updateInstanceStatus","instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e","status":"FREEZE","testFlag":"1"}""";
    private const string EchoBody = """{"activity":"echoTest","instanceId":"i-1","orderId":"CS1","testFlag":"1"}""";

    /// <summary>A handler that records what reached it, to prove dispatch and idempotent re-processing.</summary>
    private sealed class EchoHandler : IActivityHandler
    {
        public int Calls;

        public string Activity => "echoTest";

        public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult<KooGalleryResponse>(new NewInstanceResponse(ResultCode.Success, "echo-" + request.CorrelationIds().InstanceId));
        }
    }

    private static Task<TestApp> StartWithEchoAsync(EchoHandler echo, Action<Dictionary<string, string?>>? configure = null) =>
        TestApp.StartAsync(configure, s => s.AddSingleton<IActivityHandler>(echo));

    private static void AssertSignedAnswer(CallbackReply reply, string key = TestApp.Key)
    {
        Assert.Equal(200, reply.StatusCode);
        Assert.Equal("application/json;charset=UTF-8", reply.ContentType);
        Assert.True(BodySign.Verify(key, reply.BodySign, reply.Body), $"Body-Sign does not verify: {reply.BodySign} over {reply.Text}");
    }

    [Fact]
    public async Task A_signed_call_is_dispatched_and_answered_with_exact_signed_bytes()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);

        var reply = await SignedCall.SendSignedAsync(app, EchoBody);

        AssertSignedAnswer(reply);
        Assert.Equal("""{"resultCode":"000000","resultMsg":"success.","instanceId":"echo-i-1"}""", reply.Text);
        Assert.Equal(1, echo.Calls);
    }

    [Fact]
    public async Task Known_activity_without_a_handler_answers_000002_not_implemented()
    {
        // Every V2 activity has a handler now; a deployment that removes one must still answer clearly.
        await using var app = await TestApp.StartAsync(services: s => s.RemoveAll<IActivityHandler>());

        var reply = await SignedCall.SendSignedAsync(app, FreezeBody);

        AssertSignedAnswer(reply);
        Assert.Equal("000002", reply.ResultCode);
        Assert.Contains("'updateInstanceStatus' is not implemented", reply.ResultMsg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_activity_answers_000002_unknown()
    {
        await using var app = await TestApp.StartAsync();

        var reply = await SignedCall.SendSignedAsync(app, """{"activity":"launchRocket","testFlag":"1"}""");

        AssertSignedAnswer(reply);
        Assert.Equal("000002", reply.ResultCode);
        Assert.Contains("unknown activity 'launchRocket'", reply.ResultMsg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tampered_body_answers_000001()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);
        var signed = V2RequestSignature.Sign(TestApp.Key, EchoBody, app.Clock.GetUtcNow());
        var tampered = Encoding.UTF8.GetBytes(EchoBody.Replace("i-1", "i-2", StringComparison.Ordinal));

        var reply = await SignedCall.SendAsync(app, SignedCall.Raw(tampered, signed.ToQueryString()));

        AssertSignedAnswer(reply);
        Assert.Equal("000001", reply.ResultCode);
        Assert.Equal(0, echo.Calls);
    }

    [Fact]
    public async Task Wrong_key_and_missing_signature_answer_000001()
    {
        await using var app = await TestApp.StartAsync();

        var wrongKey = await SignedCall.SendSignedAsync(app, EchoBody, key: "not-the-key");
        var signed = V2RequestSignature.Sign(TestApp.Key, EchoBody, app.Clock.GetUtcNow());
        var missing = await SignedCall.SendAsync(app, SignedCall.Raw(Encoding.UTF8.GetBytes(EchoBody), $"?timestamp={signed.Timestamp}&nonce={signed.Nonce}"));

        Assert.Equal("000001", wrongKey.ResultCode);
        Assert.Equal("000001", missing.ResultCode);
        Assert.Contains("signature query parameter is missing", missing.ResultMsg, StringComparison.Ordinal);
        AssertSignedAnswer(wrongKey);
        AssertSignedAnswer(missing);
    }

    [Theory]
    [InlineData(-61)]
    [InlineData(61)]
    public async Task Timestamp_61_seconds_away_answers_000002(int offsetSeconds)
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);

        var reply = await SignedCall.SendSignedAsync(app, EchoBody, at: app.Clock.GetUtcNow().AddSeconds(offsetSeconds));

        AssertSignedAnswer(reply);
        Assert.Equal("000002", reply.ResultCode);
        Assert.Contains("timestamp", reply.ResultMsg, StringComparison.Ordinal);
        Assert.Equal(0, echo.Calls);
    }

    [Fact]
    public async Task Timestamp_60_seconds_old_and_10_digit_seconds_are_accepted()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);

        var old = await SignedCall.SendSignedAsync(app, EchoBody, at: app.Clock.GetUtcNow().AddSeconds(-60));
        var nonce = Nonce.New();
        var seconds = app.Clock.GetUtcNow().ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var signature = V2RequestSignature.Compute(TestApp.Key, nonce, seconds, Encoding.UTF8.GetBytes(EchoBody));
        var tenDigits = await SignedCall.SendAsync(app, SignedCall.Raw(Encoding.UTF8.GetBytes(EchoBody), $"?signature={signature}&timestamp={seconds}&nonce={nonce}"));

        Assert.Equal("000000", old.ResultCode);
        Assert.Equal("000000", tenDigits.ResultCode);
        Assert.Equal(2, echo.Calls);
    }

    [Theory]
    [InlineData("?signature=abc&nonce=N1", "timestamp")]
    [InlineData("?signature=abc&timestamp=12345&nonce=N1", "timestamp")]
    [InlineData("?signature=abc&timestamp=1680509558159", "nonce")]
    [InlineData("?signature=abc&timestamp=1680509558159&nonce=a%2Fb", "nonce")]
    public async Task Missing_or_malformed_timestamp_or_nonce_answers_000002(string query, string named)
    {
        await using var app = await TestApp.StartAsync();

        var reply = await SignedCall.SendAsync(app, SignedCall.Raw(Encoding.UTF8.GetBytes(EchoBody), query));

        AssertSignedAnswer(reply);
        Assert.Equal("000002", reply.ResultCode);
        Assert.Contains(named, reply.ResultMsg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replayed_nonce_with_another_body_answers_000001()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);
        var nonce = Nonce.New();

        var first = await SignedCall.SendSignedAsync(app, EchoBody, nonce: nonce);
        var replay = await SignedCall.SendSignedAsync(app, EchoBody.Replace("i-1", "i-9", StringComparison.Ordinal), nonce: nonce);

        Assert.Equal("000000", first.ResultCode);
        Assert.Equal("000001", replay.ResultCode);
        Assert.Contains("nonce was already used", replay.ResultMsg, StringComparison.Ordinal);
        AssertSignedAnswer(replay);
        Assert.Equal(1, echo.Calls);
    }

    [Fact]
    public async Task Exact_resend_with_the_same_nonce_gets_the_first_answer_byte_for_byte_without_processing_again()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);
        var nonce = Nonce.New();
        var at = app.Clock.GetUtcNow();

        var first = await SignedCall.SendSignedAsync(app, EchoBody, nonce: nonce, at: at);
        app.Clock.Advance(TimeSpan.FromSeconds(20));
        var resend = await SignedCall.SendSignedAsync(app, EchoBody, nonce: nonce, at: at);

        Assert.Equal(first.Body, resend.Body);
        Assert.Equal(first.BodySign, resend.BodySign);
        Assert.Equal(1, echo.Calls);
    }

    [Fact]
    public async Task An_exact_resend_of_a_freeze_answers_the_same_bytes_even_after_the_state_moved_on()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var id = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        var body = $$"""{"activity":"updateInstanceStatus","instanceId":"{{id}}","status":"FREEZE","testFlag":"1"}""";
        var nonce = Nonce.New();
        var at = market.App.Clock.GetUtcNow();

        var first = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);
        await market.DrainAsync();
        var resend = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);

        // Today's answer to a new freeze would say "already frozen"; a resend must repeat the first answer.
        Assert.Equal("000000", first.ResultCode);
        Assert.Equal(first.Text, resend.Text);
        Assert.Equal(first.BodySign, resend.BodySign);
        var events = await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(id, CancellationToken.None);
        Assert.Single(events, e => e.Activity == "updateInstanceStatus" && e.Kind == "callback");
    }

    [Fact]
    public async Task A_retryable_answer_is_not_kept_so_a_resend_after_recovery_is_processed()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var tables = market.App.Services.GetRequiredService<Azure.Data.Tables.TableServiceClient>();
        await tables.DeleteTableAsync(market.App.Settings["Storage:InstanceTable"]);
        var body = """{"activity":"newInstance","businessId":"b-1","orderId":"CS-RESEND","orderLineId":"CS-RESEND-000001","testFlag":"0"}""";
        var nonce = Nonce.New();
        var at = market.App.Clock.GetUtcNow();

        var first = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);
        await tables.CreateTableIfNotExistsAsync(market.App.Settings["Storage:InstanceTable"]);
        var resend = await SignedCall.SendSignedAsync(market.App, body, nonce: nonce, at: at);

        Assert.Equal(("000005", "000000"), (first.ResultCode, resend.ResultCode));
    }

    [Fact]
    public async Task Body_over_64_KiB_answers_000002_without_reading_it()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);
        var big = $$"""{"activity":"echoTest","pad":"{{new string('x', 64 * 1024)}}"}""";

        var reply = await SignedCall.SendSignedAsync(app, big);
        var context = SignedCall.SignedRequest(app, big);
        context.Request.ContentLength = null; // chunked: the limit must hold while streaming too
        var chunked = await SignedCall.SendAsync(app, context);

        Assert.Equal("000002", reply.ResultCode);
        Assert.Contains("65536 bytes", reply.ResultMsg, StringComparison.Ordinal);
        Assert.Equal("000002", chunked.ResultCode);
        AssertSignedAnswer(reply);
        Assert.Equal(0, echo.Calls);
    }

    [Fact]
    public async Task Body_just_under_the_limit_is_accepted()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);
        var prefix = "{\"activity\":\"echoTest\",\"pad\":\"";
        var body = prefix + new string('x', 64 * 1024 - prefix.Length - 2) + "\"}";
        Assert.Equal(64 * 1024, Encoding.UTF8.GetByteCount(body));

        var reply = await SignedCall.SendSignedAsync(app, body);

        Assert.True(reply.ResultCode == "000000", reply.Text);
    }

    [Fact]
    public async Task Signed_body_that_is_not_json_or_lacks_activity_answers_000002()
    {
        await using var app = await TestApp.StartAsync();

        var notJson = await SignedCall.SendSignedAsync(app, "activity=newInstance");
        var noActivity = await SignedCall.SendSignedAsync(app, """{"orderId":"CS1"}""");

        Assert.Equal("000002", notJson.ResultCode);
        Assert.Equal("000002", noActivity.ResultCode);
        Assert.Contains("activity is missing", noActivity.ResultMsg, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Any_configured_key_verifies_and_the_first_key_signs_the_answer()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo, s =>
        {
            s["KooGallery:Keys:0"] = "new-key-after-rotation";
            s["KooGallery:Keys:1"] = TestApp.Key;
        });

        var withOld = await SignedCall.SendSignedAsync(app, EchoBody, key: TestApp.Key);
        var withNew = await SignedCall.SendSignedAsync(app, EchoBody, key: "new-key-after-rotation");

        Assert.Equal("000000", withOld.ResultCode);
        Assert.Equal("000000", withNew.ResultCode);
        AssertSignedAnswer(withOld, "new-key-after-rotation");
        AssertSignedAnswer(withNew, "new-key-after-rotation");
    }

    [Fact]
    public async Task Body_signed_over_its_canonical_form_verifies_through_the_fallback()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);
        const string asSent = """{ "testFlag": "1", "orderId": "CS1", "instanceId": "i-1", "activity": "echoTest" }""";
        var signed = V2RequestSignature.Sign(TestApp.Key, EchoBody, app.Clock.GetUtcNow()); // EchoBody is the sorted form

        var reply = await SignedCall.SendAsync(app, SignedCall.Raw(Encoding.UTF8.GetBytes(asSent), signed.ToQueryString()));

        Assert.Equal("000000", reply.ResultCode);
    }

    [Fact]
    public async Task Storage_failure_answers_000005_never_an_http_error()
    {
        var echo = new EchoHandler();
        await using var app = await StartWithEchoAsync(echo);
        await app.Services.GetRequiredService<TableServiceClient>().DeleteTableAsync(app.Settings["Storage:NonceTable"]);

        var reply = await SignedCall.SendSignedAsync(app, EchoBody);

        AssertSignedAnswer(reply);
        Assert.Equal("000005", reply.ResultCode);
        Assert.Equal(0, echo.Calls);
    }

    [Fact]
    public async Task Unreachable_storage_answers_000005_within_the_budget()
    {
        var echo = new EchoHandler();
        await using var app = await TestApp.StartAsync(
            s => s["AzureWebJobsStorage"] = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;TableEndpoint=http://127.0.0.1:1/devstoreaccount1;QueueEndpoint=http://127.0.0.1:1/devstoreaccount1;",
            s => s.AddSingleton<IActivityHandler>(echo),
            createStorage: false);

        var reply = await SignedCall.SendSignedAsync(app, EchoBody);

        AssertSignedAnswer(reply);
        Assert.Equal("000005", reply.ResultCode);
        Assert.Equal(0, echo.Calls);
    }

    [Fact]
    public async Task Handler_exception_answers_000005()
    {
        await using var app = await TestApp.StartAsync(services: s => s.AddSingleton<IActivityHandler>(new ThrowingHandler()));

        var reply = await SignedCall.SendSignedAsync(app, """{"activity":"boom"}""");

        AssertSignedAnswer(reply);
        Assert.Equal("000005", reply.ResultCode);
    }

    private sealed class ThrowingHandler : IActivityHandler
    {
        public string Activity => "boom";

        public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("simulated bug");
    }
}
