using System.Text;
using System.Text.Json;
using CsCheck;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol;
using KooGallery.Protocol.Signing;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Bad input is 000002 (or 000001 for a bad signature), never 000005: KooGallery retries a 000005, and a call
/// that can never succeed must not be retried. Plus a property-based fuzz of the production interface.
/// </summary>
public class BadInputTests
{
    private static readonly string[] KnownCodes = ["000000", "000001", "000002", "000003", "000004", "000100", "000101"];

    [Theory]
    [InlineData(new byte[] { 0xC3, 0x28 })] // invalid continuation byte
    [InlineData(new byte[] { 0xFF, 0xFE })] // never valid in UTF-8
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })] // an encoded surrogate
    public async Task Invalid_utf8_inside_a_string_field_answers_000002(byte[] bad)
    {
        await using var app = await TestApp.StartAsync();
        var body = Concat("{\"activity\":\"refreshInstance\",\"instanceId\":\"i-"u8.ToArray(), bad, "\",\"testFlag\":\"1\"}"u8.ToArray());

        var reply = await SendAsync(app, body, Nonce.New());

        Assert.Equal("000002", reply.ResultCode);
        Assert.Contains("UTF-8", reply.ResultMsg, StringComparison.Ordinal);
        Assert.True(BodySign.Verify(TestApp.Key, reply.BodySign, reply.Body));
    }

    [Theory]
    [InlineData("""{"activity":"updateInstanceStatus","instanceId":"\ud800","status":"FREEZE"}""")]
    [InlineData("""{"activity":"queryInstance","instanceId":"a\udfffb"}""")]
    [InlineData("""{"activity":"newInstance","orderId":"o","orderLineId":"l","businessId":"b","x\ud800":"1"}""")]
    [InlineData("""{"activity":"changeInstanceCheck","instanceId":"i","productInfo":"{\"productId\":\"\\ud800\"}"}""")]
    public async Task A_lone_surrogate_anywhere_answers_000002(string body)
    {
        await using var app = await TestApp.StartAsync();

        var reply = await SendAsync(app, Encoding.UTF8.GetBytes(body), Nonce.New());

        Assert.Equal("000002", reply.ResultCode);
    }

    [Theory]
    [InlineData("abc\n")]
    [InlineData("abc\r\n")]
    [InlineData("a/b")]
    [InlineData("a b")]
    public async Task A_nonce_storage_cannot_key_answers_000002(string nonce)
    {
        await using var app = await TestApp.StartAsync();

        var reply = await SendAsync(app, """{"activity":"queryInstance","instanceId":"x","testFlag":"1"}"""u8.ToArray(), nonce);

        Assert.Equal("000002", reply.ResultCode);
        Assert.Contains("nonce", reply.ResultMsg, StringComparison.Ordinal);
    }

    /// <summary>
    /// Generated bodies, fields, encodings and query strings against the real app on Azurite: every answer
    /// is HTTP 200 with a known code and a valid Body-Sign, and never 000005 while storage is up.
    /// </summary>
    [Fact]
    public async Task Fuzzed_calls_always_get_a_signed_answer_and_never_000005_while_storage_is_up()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var ready = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        var released = await market.NewInstanceAsync("MOCKONETIMENEW");
        await market.CallAsync("releaseInstance", new { instanceId = released, testFlag = "1" });
        await market.DrainAsync();
        var app = market.App;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);

        await FuzzCase.Generator(ready, released).SampleAsync(
            async c =>
            {
                var (body, query) = c.Build(app.Clock.GetUtcNow());
                var reply = await SignedCall.SendAsync(app, SignedCall.Raw(body, query));

                Assert.Equal(200, reply.StatusCode);
                Assert.True(BodySign.Verify(TestApp.Key, reply.BodySign, reply.Body), "Body-Sign does not verify");
                using var answer = JsonDocument.Parse(reply.Body);
                var code = answer.RootElement.GetProperty("resultCode").GetString()!;
                Assert.Contains(code, KnownCodes);
                Assert.True(answer.RootElement.GetProperty("resultMsg").GetString()!.Length <= 255);
                if (c.Expected is { } expected)
                {
                    Assert.Equal(expected, code);
                }

                lock (counts)
                {
                    counts[code] = counts.GetValueOrDefault(code) + 1;
                }
            },
            iter: LongerHunt.Iterations(2000),
            threads: 4,
            print: c => Encoding.UTF8.GetString(c.Build(DateTimeOffset.UnixEpoch).Body));

        // The generator reaches the handlers, not only the signature check.
        Assert.True(counts.GetValueOrDefault("000000") > 50, string.Join(", ", counts));
        Assert.True(counts.GetValueOrDefault("000002") > 50, string.Join(", ", counts));
        Assert.True(counts.GetValueOrDefault("000001") > 20, string.Join(", ", counts));
    }

    private static Task<CallbackReply> SendAsync(TestApp app, byte[] body, string nonce)
    {
        var signed = V2RequestSignature.Sign(TestApp.Key, body, app.Clock.GetUtcNow(), nonce);
        return SignedCall.SendAsync(app, SignedCall.Raw(body, signed.ToQueryString()));
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();

    /// <summary>One generated call: a body from JSON fragments (some not text at all) and a way to sign it.</summary>
    private sealed record FuzzCase(string[] Fragments, int Query, bool Bom)
    {
        /// <summary>Stands for bytes that are not UTF-8 when the body is encoded.</summary>
        private const char InvalidBytes = '\u0001';

        private static readonly string[] Activities =
            ["newInstance", "queryInstance", "refreshInstance", "updateInstanceStatus", "releaseInstance", "upgradeInstance", "changeInstanceCheck",
             "refreshLicenseCode", "updateLicenseCodeStatus", "releaseLicenseCode", "unknownActivity", string.Empty];

        /// <summary>Ids that must become valid Table keys or a clear 000002, never a storage error: / \ # ? and control characters.</summary>
        private static readonly string[] AwkwardIds = ["a/b#c?d\\\\e%f&g=h+N6TR1O", "PL\\u0001x", "PL%2F", "PL#1", "PL?", "PLMOCK0001"];

        private static readonly string[] FieldNames =
            ["instanceId", "orderId", "orderLineId", "businessId", "productId", "scene", "expireTime", "status", "testFlag", "productInfo", "orderInfo", "buyerInfo", "activity", "license", "extra"];

        /// <summary>What the answer must be for this query shape, when the query alone decides it.</summary>
        public string? Expected => Query switch
        {
            7 or 8 => "000001",
            9 or 10 or 11 or 12 or 14 => "000002",
            _ => null,
        };

        public static Gen<FuzzCase> Generator(string ready, string released)
        {
            var text = Gen.OneOf(
                Gen.String[0, 20].Select(s => JsonSerializer.Serialize(s)),
                Gen.OneOf(
                    Gen.Const("\"\\ud800\""), Gen.Const("\"a\\udfffb\""), Gen.Const("\"华为云商店 😀\""), Gen.Const("\"\\u0000\\n\\t\""),
                    Gen.Const($"\"x{InvalidBytes}y\""), Gen.Const($"\"{new string('z', 300)}\""), Gen.Const("\"\"")),
                Gen.OneOf(Gen.Const(ready), Gen.Const(released), Gen.Const("kg-unknown"), Gen.Const($"{ready},{released}"), Gen.Const(string.Join(',', Enumerable.Range(0, 101))))
                    .Select(s => JsonSerializer.Serialize(s)),
                Gen.OneOf(
                    Gen.Const("\"20301231235959\""), Gen.Const("\"2030-12-31\""), Gen.Const("\"RENEWAL\""), Gen.Const("\"TRIAL_TO_FORMAL\""),
                    Gen.Const("\"FREEZE\""), Gen.Const("\"UNFREEZE\""), Gen.Const("\"1\""), Gen.Const("\"0\""), Gen.Const("\"MOCKPERIODYEARNEW\""),
                    Gen.Const("\"00010101000000\""), Gen.Const("\"99991231235959\"")),
                Gen.OneOf(AwkwardIds.Select(i => Gen.Const("\"" + i + "\"")).ToArray()));
            var scalar = Gen.OneOf(
                text,
                Gen.OneOf(Gen.Const("0"), Gen.Const("-1"), Gen.Const("1e400"), Gen.Const("12345678901234567890123"), Gen.Const("1.5"), Gen.Const("true"), Gen.Const("null")));
            var value = Gen.Frequency(
                (6, scalar),
                (1, scalar.Array[0, 3].Select(items => "[" + string.Join(',', items) + "]")),
                (1, Gen.Select(Gen.OneOf(FieldNames.Select(Gen.Const).ToArray()), scalar, (n, v) => "{\"" + n + "\":" + v + "}")),
                (1, Gen.Const("[{\"orderId\":\"o-1\",\"businessId\":\"b-1\",\"productInfo\":[{\"productId\":\"p\",\"linearValue\":2}]}]")));
            var field = Gen.Select(Gen.OneOf(FieldNames.Select(Gen.Const).ToArray()), value, (n, v) => "\"" + n + "\":" + v);
            var activity = Gen.OneOf(Activities.Select(Gen.Const).ToArray()).Select(a => "\"activity\":" + JsonSerializer.Serialize(a));
            var objectBody = Gen.Select(activity, field.Array[0, 7], (a, f) => new[] { "{", a }.Concat(f.Select(x => "," + x)).Append("}").ToArray());
            var otherBody = Gen.OneOf(
                Gen.Const(new[] { "[1,2]" }), Gen.Const(new[] { "null" }), Gen.Const(new[] { string.Empty }), Gen.Const(new[] { "{\"activity\":" }),
                Gen.Const(new[] { "not json" }), Gen.Const(new[] { $"{{\"activity\":\"queryInstance\",\"instanceId\":\"a{InvalidBytes}\"}}" }),
                Gen.Const(new[] { "{\"a\":" + new string('[', 100) }));
            var instance = Gen.OneOf(Gen.Const(ready), Gen.Const(released), Gen.Const("kg-unknown"));
            var licence = Gen.OneOf(AwkwardIds.Select(Gen.Const).ToArray());
            var expiry = Gen.OneOf(Gen.Const("20301231235959"), Gen.Const("00010101000000"), Gen.Const("99991231235959"));
            var id = Gen.Int[1, 99999].Select(i => $"CS{i:D8}");
            var wellFormed = Gen.OneOf(
                Gen.Select(id, Gen.Bool, (o, t) => $"\"activity\":\"newInstance\",\"orderId\":\"{o}\",\"orderLineId\":\"{o}-1\",\"businessId\":\"{Guid.NewGuid()}\",\"testFlag\":\"{(t ? 1 : 0)}\""),
                Gen.OneOf(Gen.Const(ready), Gen.Const(released), Gen.Const("kg-unknown"), Gen.Const($"{ready},{released}")).Select(i => $"\"activity\":\"queryInstance\",\"instanceId\":\"{i}\""),
                Gen.Select(instance, id, Gen.OneOf(Gen.Const("RENEWAL"), Gen.Const("TRIAL_TO_FORMAL"), Gen.Const("UNSUBSCRIBE_RENEWAL_PERIOD")), (i, o, sc) => $"\"activity\":\"refreshInstance\",\"instanceId\":\"{i}\",\"orderId\":\"{o}\",\"orderLineId\":\"{o}-1\",\"scene\":\"{sc}\",\"expireTime\":\"20301231235959\",\"testFlag\":\"1\""),
                Gen.Select(instance, Gen.Bool, (i, f) => $"\"activity\":\"updateInstanceStatus\",\"instanceId\":\"{i}\",\"status\":\"{(f ? "FREEZE" : "UNFREEZE")}\",\"testFlag\":\"1\""),
                Gen.Select(instance, id, (i, o) => $"\"activity\":\"upgradeInstance\",\"instanceId\":\"{i}\",\"orderId\":\"{o}\",\"orderLineId\":\"{o}-1\",\"testFlag\":\"1\""),
                Gen.Select(instance, Gen.Int[0, 100], (i, q) => $"\"activity\":\"changeInstanceCheck\",\"instanceId\":\"{i}\",\"productInfo\":{{\"productId\":\"p\",\"skuCode\":\"s\",\"linearValue\":{q}}},\"testFlag\":\"1\""),
                Gen.Select(instance, id, (i, o) => $"\"activity\":\"refreshInstance\",\"instanceId\":\"{i}\",\"orderId\":\"{o}\",\"orderLineId\":\"{o}-1\",\"scene\":\"RENEWAL\",\"expireTime\":\"00010101000000\",\"testFlag\":\"1\""),
                Gen.Select(licence, id, expiry, (l, o, e) => $"\"activity\":\"refreshLicenseCode\",\"license\":\"{l}\",\"orderId\":\"{o}\",\"orderLineId\":\"{o}-1\",\"expireTime\":\"{e}\",\"productId\":\"OFFI-LIC\",\"scene\":\"RENEWAL\""),
                Gen.Select(licence, Gen.Bool, (l, f) => $"\"activity\":\"updateLicenseCodeStatus\",\"license\":\"{l}\",\"status\":\"{(f ? "FREEZE" : "UNFREEZE")}\""),
                Gen.Select(licence, id, (l, o) => $"\"activity\":\"releaseLicenseCode\",\"license\":\"{l}\",\"orderId\":\"{o}\",\"orderLineId\":\"{o}-1\""));
            var mutated = Gen.Select(wellFormed, field.Array[0, 2], (w, extra) => new[] { "{", w }.Concat(extra.Select(x => "," + x)).Append("}").ToArray());
            var body = Gen.Frequency((5, mutated), (4, objectBody), (1, otherBody));
            return Gen.Select(body, Gen.Int[0, 19], Gen.Int[0, 30], (b, q, bom) => new FuzzCase(b, q, bom == 0));
        }

        public (byte[] Body, string Query) Build(DateTimeOffset now)
        {
            var bytes = new List<byte>();
            if (Bom)
            {
                bytes.AddRange([0xEF, 0xBB, 0xBF]);
            }

            foreach (var c in string.Concat(Fragments).Split(InvalidBytes))
            {
                if (bytes.Count > (Bom ? 3 : 0))
                {
                    bytes.AddRange([0xC3, 0x28]);
                }

                bytes.AddRange(Encoding.UTF8.GetBytes(c));
            }

            var body = bytes.ToArray();
            var nonce = Nonce.New();
            var signed = V2RequestSignature.Sign(TestApp.Key, body, now, nonce);
            string Q(string signature, string timestamp, string n) =>
                $"?signature={Uri.EscapeDataString(signature)}&timestamp={Uri.EscapeDataString(timestamp)}&nonce={Uri.EscapeDataString(n)}";

            var query = Query switch
            {
                7 => $"?timestamp={signed.Timestamp}&nonce={nonce}",
                8 => Q(new string('a', 64), signed.Timestamp, nonce),
                9 => Q(signed.Signature, "yesterday", nonce),
                10 => Q(V2RequestSignature.Compute(TestApp.Key, nonce + "\n", signed.Timestamp, body), signed.Timestamp, nonce + "\n"),
                11 => Q(V2RequestSignature.Compute(TestApp.Key, "a/b", signed.Timestamp, body), signed.Timestamp, "a/b"),
                12 => Sign(now.AddMinutes(-5)),
                13 => Q(V2RequestSignature.Compute(TestApp.Key, nonce, now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), body), now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), nonce),
                14 => Q(V2RequestSignature.Compute(TestApp.Key, new string('n', 200), signed.Timestamp, body), signed.Timestamp, new string('n', 200)),
                15 => Q(V2RequestSignature.Compute(TestApp.Key, "随机", signed.Timestamp, body), signed.Timestamp, "随机"),
                _ => signed.ToQueryString(),
            };
            return (body, query);

            string Sign(DateTimeOffset at) => V2RequestSignature.Sign(TestApp.Key, body, at, nonce).ToQueryString();
        }
    }
}
