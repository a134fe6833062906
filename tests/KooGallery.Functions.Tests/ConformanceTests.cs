using System.Text;
using System.Text.Json.Nodes;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.Signing;
using KooGallery.Simulator;

namespace KooGallery.Functions.Tests;

/// <summary>
/// The simulator's conformance suite (§7.2/§7.3) on every CI run, against the function app in-process
/// with real Azurite and the queue worker running, so a regression in any case fails the build; and proof
/// that the suite itself notices an endpoint that misbehaves.
/// </summary>
public class ConformanceTests
{
    private static readonly Uri Endpoint = new("https://merchant.example.com/api/koogallery");

    private static Task<ConformanceReport> RunAsync(LocalMarketplace market, ConformanceOptions options, Func<HttpResponseMessage, Task>? tamper = null) =>
        RunAsync(market, options, new FunctionAppHandler(market.App, tamper));

    private static async Task<ConformanceReport> RunAsync(LocalMarketplace market, ConformanceOptions options, HttpMessageHandler endpoint)
    {
        await using var worker = market.RunQueueWorker();
        using var http = new HttpClient(endpoint);
        return await new ConformanceSuite(new KooGalleryCaller(http, Endpoint, TestApp.Key, market.App.Clock, TestApp.KitKey), options).RunAsync();
    }

    private static ConformanceOptions Fast => new() { PollInterval = TimeSpan.FromMilliseconds(100), ProvisioningTimeout = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task The_function_app_passes_every_conformance_case()
    {
        // A joint-operation merchant has its private key configured (without it, applicationSync answers 000005).
        using var merchantKey = System.Security.Cryptography.RSA.Create(2048);
        await using var market = await LocalMarketplace.StartAsync(s => s["JointOperation:RsaPrivateKey"] = merchantKey.ExportPkcs8PrivateKeyPem());

        var report = await RunAsync(market, Fast);

        Assert.True(report.Failed == 0, report.ToTable());
        Assert.Equal(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "10b", "11", "14", "15"], report.Cases.Select(c => c.Number));
        var json = JsonNode.Parse(report.ToJson())!;
        Assert.Equal(14, json["passed"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_suite_fails_an_endpoint_whose_body_sign_is_wrong()
    {
        await using var market = await LocalMarketplace.StartAsync();

        var report = await RunAsync(market, Fast, response =>
        {
            response.Headers.Remove(BodySign.HeaderName);
            response.Headers.TryAddWithoutValidation(BodySign.HeaderName, BodySign.HeaderValue("some-other-key", "{}"u8));
            return Task.CompletedTask;
        });

        Assert.Equal(report.Cases.Count, report.Failed);
        Assert.Contains(report.Cases[0].Failures, f => f.Contains("Body-Sign does not verify", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_suite_fails_an_endpoint_that_leaves_out_a_mandatory_field()
    {
        await using var market = await LocalMarketplace.StartAsync();

        var report = await RunAsync(market, Fast, async response =>
        {
            // Drop instanceId from newInstance answers, re-signed correctly so only the missing field is wrong.
            var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsObject();
            if (json.Remove("instanceId"))
            {
                var bytes = Encoding.UTF8.GetBytes(json.ToJsonString());
                response.Content = new ByteArrayContent(bytes);
                response.Headers.Remove(BodySign.HeaderName);
                response.Headers.TryAddWithoutValidation(BodySign.HeaderName, BodySign.HeaderValue(TestApp.Key, bytes));
            }
        });

        var case1 = report.Cases.Single(c => c.Number == "1");
        Assert.False(case1.Passed);
        Assert.Contains(case1.Failures, f => f.Contains("instanceId missing", StringComparison.Ordinal));
        Assert.True(report.Cases.Single(c => c.Number == "11").Passed); // unrelated cases still judged on their own
    }

    [Fact]
    public async Task The_suite_fails_an_endpoint_that_answers_too_slowly()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var options = Fast;
        options.MaxAnswerTime = TimeSpan.FromMilliseconds(150);

        var report = await RunAsync(market, options, _ => Task.Delay(250));

        Assert.All(report.Cases, c => Assert.False(c.Passed));
        Assert.Contains(report.Cases[^1].Failures, f => f.Contains("over KooGallery's 150 ms", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_suite_fails_an_endpoint_that_does_not_check_signatures()
    {
        await using var market = await LocalMarketplace.StartAsync();

        var report = await RunAsync(market, Fast, new SignatureIgnoringHandler(market.App));

        var case10 = report.Cases.Single(c => c.Number == "10");
        Assert.False(case10.Passed);
        Assert.Contains(case10.Failures, f => f.StartsWith("wrong key: expected 000001", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_order_command_plays_a_whole_order_through_the_app()
    {
        await using var market = await LocalMarketplace.StartAsync();
        using var http = new HttpClient(new FunctionAppHandler(market.App));
        var output = new StringWriter();

        bool played;
        await using (market.RunQueueWorker())
        {
            played = await OrderPlay.RunAsync(new KooGalleryCaller(http, Endpoint, TestApp.Key, market.App.Clock), "MOCKPERIODYEARNEW", real: false, output, TimeSpan.FromMilliseconds(100));
        }

        Assert.True(played, output.ToString());
        var text = output.ToString();
        foreach (var step in new[] { "--> newInstance", "queryInstance polled", "--> refreshInstance", "--> updateInstanceStatus", "--> releaseInstance", "played through" })
        {
            Assert.Contains(step, text, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("DOES NOT VERIFY", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_order_command_stops_and_says_why_when_a_step_fails()
    {
        await using var market = await LocalMarketplace.StartAsync();
        using var http = new HttpClient(new FunctionAppHandler(market.App));
        var output = new StringWriter();

        // Signed with the wrong Key: the very first step is refused.
        var played = await OrderPlay.RunAsync(new KooGalleryCaller(http, Endpoint, "not-the-key", market.App.Clock), "MOCKPERIODYEARNEW", real: false, output, TimeSpan.FromMilliseconds(100));

        Assert.False(played);
        Assert.Contains("newInstance answered 000001, expected 000000: stopping.", output.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Re-signs every request with the right key before the app sees it: an endpoint that would accept anything.</summary>
    private sealed class SignatureIgnoringHandler(TestApp app) : DelegatingHandler(new FunctionAppHandler(app))
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
            var query = System.Web.HttpUtility.ParseQueryString(request.RequestUri!.Query);
            var signed = V2RequestSignature.Sign(TestApp.Key, body, DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(query["timestamp"]!, System.Globalization.CultureInfo.InvariantCulture)), query["nonce"] ?? Nonce.New());
            request.RequestUri = new Uri(request.RequestUri.GetLeftPart(UriPartial.Path) + signed.ToQueryString());
            return await base.SendAsync(request, cancellationToken);
        }
    }
}
