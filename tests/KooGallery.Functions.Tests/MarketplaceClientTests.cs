using System.Diagnostics;
using System.Text.Json.Nodes;
using KooGallery.Functions.Marketplace;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

/// <summary>
/// The open-API client as the app registers it (typed HttpClient, APIG signer, Polly, host fallback)
/// against the open-API emulator, which verifies every signature.
/// </summary>
public class MarketplaceClientTests
{
    private static async Task<(TestApp App, OpenApiEmulator Emulator)> StartAsync(
        Action<Dictionary<string, string?>>? configure = null, OpenApiEmulatorOptions? emulatorOptions = null)
    {
        var emulator = await OpenApiEmulator.StartAsync(emulatorOptions ?? new OpenApiEmulatorOptions { UsagePushKeys = [TestApp.Key] });
        var app = await TestApp.StartAsync(s =>
        {
            s["Marketplace:BaseUrl"] = emulator.BaseUrl.ToString();
            s["Marketplace:AccessKey"] = "emulator-access-key";
            s["Marketplace:SecretKey"] = "emulator-secret-key-change-me";
            configure?.Invoke(s);
        });
        return (app, emulator);
    }

    private static KooGalleryOpenApi Client(TestApp app) => app.Services.GetRequiredService<KooGalleryOpenApi>();

    [Theory]
    [InlineData("MOCKPERIODYEARNEW", "PERIOD")]
    [InlineData("MOCKONETIMENEW", "ONE_TIME")]
    [InlineData("MOCKONDEMAND", "ON_DEMAND")]
    [InlineData("MOCKONDEMANDPKG", "ON_DEMAND_PKG")]
    [InlineData("MOCKPERIODDAYTRIAL", "PERIOD")]
    [InlineData("MOCKMONTYTRIALTOFORMAL", "PERIOD")]
    [InlineData("MOCKMONTYUNSUBSCRIBE", "PERIOD")]
    [InlineData("MOCKMONTYRENEW", "PERIOD")]
    [InlineData("MOCKMONTYCHANGE", "PERIOD")]
    public async Task Query_order_reads_every_mock_order_with_a_verified_signature(string orderId, string chargingMode)
    {
        var (app, emulator) = await StartAsync();
        await using var _ = app;
        await using var __ = emulator;

        var order = await Client(app).QueryOrderAsync(orderId, $"{orderId}-000001", CancellationToken.None);

        Assert.Equal(orderId, order.OrderId);
        var line = Assert.Single(order.OrderLines);
        Assert.Equal($"{orderId}-000001", line.OrderLineId);
        Assert.Equal(chargingMode, line.ChargingMode);
        Assert.Equal($"OFFI-{orderId}", line.ProductInfo[0].ProductId);
        Assert.Equal("68cbc86abc2018ab880d92f36422fa0e", order.CustomerId);
        Assert.Equal(1, emulator.RequestCount);
    }

    [Fact]
    public async Task Typed_order_keeps_fields_it_does_not_model()
    {
        var (app, emulator) = await StartAsync();
        await using var _ = app;
        await using var __ = emulator;
        emulator.AddOrder(JsonNode.Parse("""
            {"orderId":"CS-EXTRA","orderType":"NEW","futureField":{"a":[1,2]},
             "orderLine":[{"orderLineId":"CS-EXTRA-000001","chargingMode":"PERIOD","periodType":"month","periodNumber":3,
               "expireTime":"20270301T155959Z","lineNew":"x",
               "productInfo":[{"productId":"P1","skuCode":"S1","linearValue":12.5,"productNew":true}],
               "extendParams":[{"name":"emailDomainName","value":"corp.example.com"}]}]}
            """)!.AsObject());

        var order = await Client(app).QueryOrderAsync("CS-EXTRA", null, CancellationToken.None);

        Assert.Equal("""{"a":[1,2]}""", order.Extra!["futureField"].GetRawText());
        var line = order.Line(null)!;
        Assert.Equal("x", line.Extra!["lineNew"].GetString());
        Assert.True(line.ProductInfo[0].Extra!["productNew"].GetBoolean());
        Assert.Equal(12.5m, line.ProductInfo[0].LinearValue);
        Assert.Equal(3, line.PeriodNumber);
        Assert.Equal(new DateTimeOffset(2027, 3, 1, 15, 59, 59, TimeSpan.Zero), line.ExpiresAt);
        Assert.Equal(new KooGalleryExtendParam("emailDomainName", "corp.example.com"), line.ExtendParams[0]);
    }

    [Fact]
    public async Task Unknown_order_is_synthesised_unless_strict_and_a_business_error_is_not_retried()
    {
        var (app, emulator) = await StartAsync();
        await using var _ = app;
        await using var __ = emulator;
        Assert.Equal("PERIOD", (await Client(app).QueryOrderAsync("CS-ANY", "CS-ANY-L1", CancellationToken.None)).Line("CS-ANY-L1")!.ChargingMode);

        var (strictApp, strict) = await StartAsync(emulatorOptions: new OpenApiEmulatorOptions { Strict = true });
        await using var ___ = strictApp;
        await using var ____ = strict;
        var error = await Assert.ThrowsAsync<MarketplaceBusinessException>(() => Client(strictApp).QueryOrderAsync("CS-ANY", null, CancellationToken.None));

        Assert.Equal(OpenApiResultCodes.InvalidParameter, error.ResultCode);
        Assert.False(error.IsTransient);
        Assert.Equal(1, strict.RequestCount);
    }

    [Fact]
    public async Task Wrong_secret_key_is_refused_by_the_gateway_and_not_retried()
    {
        var (app, emulator) = await StartAsync(s => s["Marketplace:SecretKey"] = "not-the-secret");
        await using var _ = app;
        await using var __ = emulator;

        var error = await Assert.ThrowsAsync<MarketplaceGatewayException>(() => Client(app).QueryOrderAsync("MOCKPERIODYEARNEW", null, CancellationToken.None));

        Assert.Equal(401, error.Status);
        Assert.Equal("APIGW.0301", error.ErrorCode);
        Assert.DoesNotContain("not-the-secret", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, emulator.RequestCount);
    }

    [Fact]
    public async Task Server_errors_are_retried_until_success()
    {
        var (app, emulator) = await StartAsync();
        await using var _ = app;
        await using var __ = emulator;
        emulator.Faults.Enqueue(new Fault.ServerError(500), times: 2);
        emulator.Faults.Enqueue(new Fault.ServerError(503));

        var order = await Client(app).QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None);

        Assert.Equal("MOCKONETIMENEW", order.OrderId);
        Assert.Equal(4, emulator.RequestCount);
    }

    [Fact]
    public async Task Retries_stop_after_the_configured_count()
    {
        var (app, emulator) = await StartAsync(s => s["OutboundHttp:MaxRetries"] = "2");
        await using var _ = app;
        await using var __ = emulator;
        emulator.Faults.Enqueue(new Fault.ServerError(502), times: 5);

        var error = await Assert.ThrowsAsync<MarketplaceGatewayException>(() => Client(app).QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None));

        Assert.Equal(502, error.Status);
        Assert.True(error.IsTransient);
        Assert.Equal(3, emulator.RequestCount);
    }

    [Fact]
    public async Task Too_many_requests_honours_retry_after()
    {
        var (app, emulator) = await StartAsync();
        await using var _ = app;
        await using var __ = emulator;
        emulator.Faults.Enqueue(new Fault.TooManyRequests(RetryAfterSeconds: 1));
        var watch = Stopwatch.StartNew();

        await Client(app).QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None);

        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(950), $"retried after {watch.ElapsedMilliseconds} ms, before Retry-After");
        Assert.Equal(2, emulator.RequestCount);
    }

    [Fact]
    public async Task Slow_answers_time_out_per_attempt_and_are_retried()
    {
        var (app, emulator) = await StartAsync(s => s["OutboundHttp:AttemptTimeout"] = "00:00:00.300");
        await using var _ = app;
        await using var __ = emulator;
        emulator.Faults.Enqueue(new Fault.Slow(TimeSpan.FromSeconds(3)));
        var watch = Stopwatch.StartNew();

        await Client(app).QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2.5), $"took {watch.ElapsedMilliseconds} ms: the slow attempt was not cut off");
        Assert.Equal(2, emulator.RequestCount);
    }

    [Fact]
    public async Task Dropped_connections_are_retried()
    {
        var (app, emulator) = await StartAsync();
        await using var _ = app;
        await using var __ = emulator;
        emulator.Faults.Enqueue(new Fault.DropConnection(), times: 2);

        await Client(app).QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None);

        Assert.Equal(3, emulator.RequestCount);
    }

    [Fact]
    public async Task Business_errors_are_not_retried()
    {
        var (app, emulator) = await StartAsync();
        await using var _ = app;
        await using var __ = emulator;
        emulator.Faults.Enqueue(new Fault.BusinessError("92020002", "invalid param"));

        var error = await Assert.ThrowsAsync<MarketplaceBusinessException>(() => Client(app).QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None));

        Assert.Equal("92020002", error.ResultCode);
        Assert.Equal(1, emulator.RequestCount);
    }

    [Fact]
    public async Task The_circuit_opens_after_consecutive_failures_and_then_fails_fast()
    {
        var (app, emulator) = await StartAsync(s =>
        {
            s["OutboundHttp:MaxRetries"] = "0";
            s["OutboundHttp:BreakerFailures"] = "2";
            s["OutboundHttp:BreakerDuration"] = "00:01:00";
        });
        await using var _ = app;
        await using var __ = emulator;
        emulator.Faults.Enqueue(new Fault.ServerError(500), times: 10);
        var client = Client(app);

        await Assert.ThrowsAsync<MarketplaceGatewayException>(() => client.QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None));
        await Assert.ThrowsAsync<MarketplaceGatewayException>(() => client.QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None));
        var open = await Assert.ThrowsAsync<MarketplaceUnavailableException>(() => client.QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None));

        Assert.IsType<Polly.CircuitBreaker.BrokenCircuitException>(open.InnerException, exactMatch: false);
        Assert.Equal(2, emulator.RequestCount);
        // A second client instance shares the breaker: the state is the app's, not one HttpClient's.
        await Assert.ThrowsAsync<MarketplaceUnavailableException>(() => Client(app).QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None));
        Assert.Equal(2, emulator.RequestCount);
    }

    [Theory]
    [InlineData("http://127.0.0.1:1")]                       // connection refused
    [InlineData("http://koogallery-primary.invalid:8090")]   // name does not resolve
    public async Task Unreachable_primary_host_falls_back_to_the_fallback_host(string primary)
    {
        var (app, emulator) = await StartAsync();
        await using var __ = emulator;
        await app.DisposeAsync();
        await using var fallbackApp = await TestApp.StartAsync(s =>
        {
            s["Marketplace:BaseUrl"] = primary;
            s["Marketplace:FallbackBaseUrl"] = emulator.BaseUrl.ToString();
            s["Marketplace:AccessKey"] = "emulator-access-key";
            s["Marketplace:SecretKey"] = "emulator-secret-key-change-me";
        });

        var order = await Client(fallbackApp).QueryOrderAsync("MOCKPERIODYEARNEW", null, CancellationToken.None);

        Assert.Equal("MOCKPERIODYEARNEW", order.OrderId);
        Assert.Equal(1, emulator.RequestCount); // signed for the fallback host, or the emulator would have refused it
    }

    [Fact]
    public async Task A_reachable_primary_that_fails_is_not_abandoned_for_the_fallback()
    {
        await using var primary = await OpenApiEmulator.StartAsync();
        await using var fallback = await OpenApiEmulator.StartAsync();
        await using var app = await TestApp.StartAsync(s =>
        {
            s["Marketplace:BaseUrl"] = primary.BaseUrl.ToString();
            s["Marketplace:FallbackBaseUrl"] = fallback.BaseUrl.ToString();
            s["Marketplace:AccessKey"] = "emulator-access-key";
            s["Marketplace:SecretKey"] = "emulator-secret-key-change-me";
            s["OutboundHttp:MaxRetries"] = "1";
        });
        primary.Faults.Enqueue(new Fault.ServerError(500), times: 5);

        await Assert.ThrowsAsync<MarketplaceGatewayException>(() => Client(app).QueryOrderAsync("MOCKONETIMENEW", null, CancellationToken.None));

        Assert.Equal(2, primary.RequestCount);
        Assert.Equal(0, fallback.RequestCount);
    }

    [Fact]
    public void Site_hosts_follow_the_spec()
    {
        Assert.Equal(new Uri("https://mkt.myhuaweicloud.com"), new MarketplaceOptions { Site = "cn" }.PrimaryBase);
        Assert.Equal(new Uri("https://mkt.myhuaweicloud.cn"), new MarketplaceOptions { Site = "cn" }.FallbackBase);
        Assert.Equal(new Uri("https://mkt-intl.myhuaweicloud.com"), new MarketplaceOptions { Site = "intl" }.PrimaryBase);
        Assert.Equal(new Uri("https://mkt.myhuaweicloud.cn"), new MarketplaceOptions { Site = "intl" }.FallbackBase);
        Assert.Null(new MarketplaceOptions { Site = "eu" }.FallbackBase);
        Assert.Null(new MarketplaceOptions { Site = "cn", FallbackBaseUrl = "" }.FallbackBase);
    }

    [Fact]
    public async Task Usage_push_is_signed_over_the_exact_deep_sorted_bytes()
    {
        var (app, emulator) = await StartAsync();
        await using var _ = app;
        await using var __ = emulator;
        UsageRecord[] records =
        [
            new("7f141bf1-aec8-4859-8323-fb3a8ad50721", "20220809T091000Z", "20220809T080000Z", "20220809T090000Z", "99", "a1b2c3d4"),
            new("pkg-usage-1", "20220809T091000Z", "20220809T080000Z", "20220809T090000Z", "0.5", "sn-2", RelatePackageInstance: "pkg-1"),
        ];

        var result = await Client(app).PushUsageAsync(records, CancellationToken.None);

        Assert.Equal(OpenApiResultCodes.Success, result.ResultCode);
        var push = Assert.Single(emulator.UsagePushes);
        Assert.StartsWith("""{"usage_records":[{"begin_time":"20220809T080000Z","end_time":"20220809T090000Z","instance_id":"7f141bf1-aec8-4859-8323-fb3a8ad50721","metering_sn":"a1b2c3d4","record_time":"20220809T091000Z","usage_value":"99"},{"begin_time":""", push.Body, StringComparison.Ordinal);
        Assert.Equal("pkg-1", push.Records[1]["relate_pkg_instance"]!.GetValue<string>());
        Assert.Null(push.Records[0]["relate_pkg_instance"]);
    }

    [Fact]
    public async Task Usage_push_with_the_wrong_key_is_refused_and_over_1000_records_never_leave()
    {
        var (app, emulator) = await StartAsync(emulatorOptions: new OpenApiEmulatorOptions { UsagePushKeys = ["some-other-key"] });
        await using var _ = app;
        await using var __ = emulator;
        var record = new UsageRecord("i", "20220809T091000Z", "20220809T080000Z", "20220809T090000Z", "1", "sn");

        var refused = await Assert.ThrowsAsync<MarketplaceBusinessException>(() => Client(app).PushUsageAsync([record], CancellationToken.None));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Client(app).PushUsageAsync(Enumerable.Repeat(record, 1001).ToList(), CancellationToken.None));

        Assert.Equal("92020002", refused.ResultCode);
        Assert.Empty(emulator.UsagePushes);
        Assert.Equal(1, emulator.RequestCount);
    }
}
