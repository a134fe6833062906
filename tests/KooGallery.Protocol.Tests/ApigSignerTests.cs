using System.Net.Http.Headers;
using KooGallery.Protocol.Signing;

namespace KooGallery.Protocol.Tests;

/// <summary>
/// Huawei's worked example from the "API Request Signing Guide" (Constructing a Standard Request):
/// <c>GET https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&amp;marker=13551d6b-…</c>
/// with <c>Content-Type: application/json</c>, <c>X-Sdk-Date: 20191115T033655Z</c>; published hash of the
/// canonical request <c>b25362e6…</c>; with the example AK/SK of Huawei's SDK tests the signature is <c>7be66680…</c>.
/// </summary>
public class ApigSignerTests
{
    private const string Url = "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0";
    private const string Ak = "QTWAOYTTINDUT2QVKYUC";
    private const string Sk = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc";
    private const string EmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private const string CanonicalHash = "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a";
    private const string ExpectedSignature = "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe";
    private static readonly DateTimeOffset SignedAt = new(2019, 11, 15, 3, 36, 55, TimeSpan.Zero);

    private static readonly KeyValuePair<string, string>[] ExampleHeaders =
    [
        new("Content-Type", "application/json"),
        new("Host", "service.region.example.com"),
        new("X-Sdk-Date", "20191115T033655Z"),
    ];

    [Fact]
    public void Canonical_request_matches_the_published_example()
    {
        var canonical = ApigSigner.CanonicalRequest("GET", new Uri(Url), ExampleHeaders, EmptySha256, out var signedHeaders);

        Assert.Equal(
            "GET\n/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\nlimit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n" +
            "content-type:application/json\nhost:service.region.example.com\nx-sdk-date:20191115T033655Z\n\n" +
            "content-type;host;x-sdk-date\n" + EmptySha256,
            canonical);
        Assert.Equal("content-type;host;x-sdk-date", signedHeaders);
        Assert.Equal($"SDK-HMAC-SHA256\n20191115T033655Z\n{CanonicalHash}", ApigSigner.StringToSign("20191115T033655Z", canonical));
    }

    [Fact]
    public void Signature_matches_the_published_example()
    {
        var canonical = ApigSigner.CanonicalRequest("GET", new Uri(Url), ExampleHeaders, EmptySha256, out _);
        Assert.Equal(ExpectedSignature, ApigSigner.Signature(Sk, ApigSigner.StringToSign("20191115T033655Z", canonical)));
    }

    [Fact]
    public async Task Signing_an_HttpRequestMessage_produces_the_published_authorization_header()
    {
        using var request = ExampleRequest(Url);

        await new ApigSigner(Ak, Sk).SignAsync(request, SignedAt);

        Assert.Equal("20191115T033655Z", request.Headers.GetValues("X-Sdk-Date").Single());
        Assert.Equal(
            $"SDK-HMAC-SHA256 Access={Ak}, SignedHeaders=content-type;host;x-sdk-date, Signature={ExpectedSignature}",
            request.Headers.GetValues("Authorization").Single());
    }

    [Fact]
    public async Task Query_order_does_not_matter_but_values_do()
    {
        using var reordered = ExampleRequest("https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?marker=13551d6b-755d-4757-b956-536f674975c0&limit=2");
        using var changed = ExampleRequest(Url.Replace("limit=2", "limit=3", StringComparison.Ordinal));

        await new ApigSigner(Ak, Sk).SignAsync(reordered, SignedAt);
        await new ApigSigner(Ak, Sk).SignAsync(changed, SignedAt);

        Assert.Contains(ExpectedSignature, reordered.Headers.GetValues("Authorization").Single(), StringComparison.Ordinal);
        Assert.DoesNotContain(ExpectedSignature, changed.Headers.GetValues("Authorization").Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a b/*~é", "a%20b%2F%2A~%C3%A9")]
    [InlineData("AZaz09-_.~", "AZaz09-_.~")]
    [InlineData("+=&", "%2B%3D%26")]
    public void Escapes_per_rfc_3986_with_upper_case_hex(string raw, string escaped)
    {
        Assert.Equal(escaped, ApigSigner.Escape(raw));
    }

    [Fact]
    public void Canonical_uri_always_ends_with_a_slash_and_query_values_are_sorted()
    {
        Assert.Equal("/api/mkp-openapi-public/global/v1/order/query/", ApigSigner.CanonicalUri("/api/mkp-openapi-public/global/v1/order/query"));
        Assert.Equal("/", ApigSigner.CanonicalUri("/"));
        Assert.Equal("a=&b=1&b=2&c=x%20y", ApigSigner.CanonicalQueryString("?c=x+y&b=2&a&b=1"));
    }

    [Fact]
    public async Task Gateway_side_verification_accepts_our_requests_and_rejects_tampering()
    {
        var body = """{"usage_records":[]}"""u8.ToArray();
        using var request = new HttpRequestMessage(HttpMethod.Post, "https://mkt.myhuaweicloud.com/api/mkp-openapi-public/global/v1/isv/usage-data?x=1")
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.TryAddWithoutValidation("nonce", "abc");
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, br"); // not named: left unsigned
        await new ApigSigner(Ak, Sk, ["nonce"]).SignAsync(request, SignedAt);
        Assert.Contains("SignedHeaders=content-type;host;nonce;x-sdk-date,", request.Headers.GetValues("Authorization").Single(), StringComparison.Ordinal);
        var headers = request.Headers.Concat(request.Content.Headers).Select(h => new KeyValuePair<string, string>(h.Key, string.Join(',', h.Value))).ToList();

        string? Lookup(string ak) => ak == Ak ? Sk : null;
        var ok = ApigSigner.Verify("POST", request.RequestUri!, headers, body, Lookup, SignedAt.AddSeconds(30), TimeSpan.FromMinutes(15));
        var tamperedBody = ApigSigner.Verify("POST", request.RequestUri!, headers, """{"usage_records":[1]}"""u8, Lookup, SignedAt, TimeSpan.FromMinutes(15));
        var wrongUri = ApigSigner.Verify("POST", new Uri(request.RequestUri + "2"), headers, body, Lookup, SignedAt, TimeSpan.FromMinutes(15));
        var expired = ApigSigner.Verify("POST", request.RequestUri!, headers, body, Lookup, SignedAt.AddMinutes(16), TimeSpan.FromMinutes(15));
        var unknownAk = ApigSigner.Verify("POST", request.RequestUri!, headers, body, _ => null, SignedAt, TimeSpan.FromMinutes(15));
        var changedNonce = ApigSigner.Verify("POST", request.RequestUri!, headers.Select(h => h.Key == "nonce" ? new KeyValuePair<string, string>("nonce", "abd") : h), body, Lookup, SignedAt, TimeSpan.FromMinutes(15));

        Assert.True(ok.IsValid, ok.ErrorMessage);
        Assert.Equal(Ak, ok.AccessKey);
        Assert.False(tamperedBody.IsValid);
        Assert.False(wrongUri.IsValid);
        Assert.Equal("APIGW.0303", expired.ErrorCode);
        Assert.False(unknownAk.IsValid);
        Assert.False(changedNonce.IsValid);
    }

    private static HttpRequestMessage ExampleRequest(string url)
    {
        // The example's GET carries Content-Type; in .NET that is a content header, so an empty body carries it.
        var request = new HttpRequestMessage(HttpMethod.Get, url) { Content = new ByteArrayContent([]) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return request;
    }
}
