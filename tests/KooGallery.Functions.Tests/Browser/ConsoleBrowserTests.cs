using KooGallery.Functions.Instances;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace KooGallery.Functions.Tests.Browser;

/// <summary>
/// The operator console in a real headless Chromium, against the app on loopback with Azurite and seeded
/// orders: one instance failed (KooGallery's order API was down past the give-up window) and one failed
/// order (a callback answered 000003).
/// </summary>
[Collection(BrowserTestsRunOneAtATime.Name)]
public sealed class ConsoleBrowserTests : IAsyncLifetime
{
    private const string OperatorKey = "browser-test-operator-key-0123456789";
    private static readonly System.Security.Cryptography.RSA MerchantKey = System.Security.Cryptography.RSA.Create(2048);

    private LocalMarketplace market = null!;
    private ConsoleHost host = null!;
    private IPlaywright playwright = null!;
    private IBrowser browser = null!;
    private string failedInstance = null!;

    public async Task InitializeAsync()
    {
        market = await LocalMarketplace.StartAsync(s =>
        {
            s["OutboundHttp:AttemptTimeout"] = "00:00:00.300";
            s["OutboundHttp:BreakerDuration"] = "00:00:00.100";
            s["Lifecycle:GiveUpAfter"] = "01:00:00";
            s["Console:OperatorKeys:0"] = OperatorKey;
            s["JointOperation:RsaPrivateKey"] = MerchantKey.ExportPkcs8PrivateKeyPem();
        });
        market.OpenApi.Faults.OutageUntil(market.App.Clock, market.App.Clock.GetUtcNow() + TimeSpan.FromHours(3), new Fault.ServerError(503));
        failedInstance = await market.NewInstanceAsync("CS2611290501", test: false);
        await market.DrainAsync();
        market.OpenApi.Faults.Clear();
        Assert.Equal(nameof(InstanceState.Failed), (await market.InstanceAsync(failedInstance))!.State);

        var missing = await market.CallAsync("refreshInstance", new { instanceId = "gone-instance", orderId = "CS2611290502", orderLineId = "CS2611290502-000001", scene = "RENEWAL", expireTime = "20281129235959" });
        Assert.Equal("000003", missing.ResultCode);

        await market.App.Services.GetRequiredService<KooGallery.Functions.Operations.CallbackCounters>().FlushAsync(CancellationToken.None);
        await market.App.Services.GetRequiredService<InstanceStateCounts>().FlushAsync(CancellationToken.None); // the minute's timer, played now
        host = await ConsoleHost.StartAsync(market.App);
        (playwright, browser) = await Chromium.LaunchAsync();
    }

    public async Task DisposeAsync()
    {
        await browser.DisposeAsync();
        playwright.Dispose();
        await host.DisposeAsync();
        await market.DisposeAsync();
    }

    private async Task<IPage> SignedInAsync(int width = 1280)
    {
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = width, Height = 900 } });
        await page.GotoAsync(new Uri(host.BaseUrl, "api/console").ToString());
        await page.GetByLabel("or an operator key").FillAsync(OperatorKey);
        await page.Keyboard.PressAsync("Enter");
        await Assertions.Expect(page.Locator("#overview")).ToBeVisibleAsync();
        return page;
    }

    [Fact]
    public async Task The_overview_shows_the_failed_order_against_the_monthly_threshold_and_the_failed_instance()
    {
        var page = await SignedInAsync();

        await Assertions.Expect(page.Locator("#failed-count")).ToHaveTextAsync("1");
        await Assertions.Expect(page.Locator("#failed-threshold")).ToHaveTextAsync("5");
        await Assertions.Expect(page.Locator("#failed-orders tbody")).ToContainTextAsync("CS2611290502");
        await Assertions.Expect(page.Locator("#failed-orders tbody")).ToContainTextAsync("000003");
        await Assertions.Expect(page.Locator("#failed-instances tbody")).ToContainTextAsync(failedInstance);
        await Assertions.Expect(page.Locator("#states tbody")).ToContainTextAsync("Failed");
        await Assertions.Expect(page.Locator("#callbacks tbody tr").Filter(new() { HasText = "refreshInstance" })).ToContainTextAsync("000003");
        await Assertions.Expect(page.Locator("#callbacks tbody tr").Filter(new() { HasText = "newInstance" })).ToContainTextAsync("000000");
        await Assertions.Expect(page.Locator("#callbacks-total")).ToHaveTextAsync("2");
        await Assertions.Expect(page.Locator("#who")).ToContainTextAsync("operator key #0");
        Assert.DoesNotContain(OperatorKey, await page.ContentAsync(), StringComparison.Ordinal);

        if (Environment.GetEnvironmentVariable("KOOGALLERY_CONSOLE_SCREENSHOT") is { Length: > 0 } path)
        {
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        }
    }

    [Fact]
    public async Task The_dial_test_card_names_the_failing_case_and_marks_the_day()
    {
        var page = await SignedInAsync();
        await Assertions.Expect(page.Locator("#dial-last")).ToContainTextAsync("No dial test has run");

        var now = market.App.Clock.GetUtcNow();
        var report = new KooGallery.Protocol.DialTest.DialTestReport("20261203000000abcdef", "https://merchant.example.com/api/koogallery", now, TimeSpan.FromSeconds(3), null,
        [
            new("newInstance", KooGallery.Protocol.DialTest.DialCaseOutcome.Passed, null, 120, 1),
            new("queryInstance", KooGallery.Protocol.DialTest.DialCaseOutcome.Failed, "queryInstance: Body-Sign does not verify over the answer", 95, 2),
            new("refreshInstance", KooGallery.Protocol.DialTest.DialCaseOutcome.Skipped, "not played: an earlier case failed", 0, 0),
        ]);
        await market.App.Services.GetRequiredService<KooGallery.Functions.DialTest.DialTestStore>().RecordAsync(report, CancellationToken.None);
        await page.ReloadAsync(); // the key stays in the tab's session storage

        await Assertions.Expect(page.Locator("#dial-last")).ToContainTextAsync("FAILED");
        await Assertions.Expect(page.Locator("#dial-last")).ToContainTextAsync("queryInstance failed: queryInstance: Body-Sign does not verify");
        await Assertions.Expect(page.Locator("#dial-card")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("alarm"));
        await Assertions.Expect(page.Locator("#dial-cases tbody tr").Filter(new() { HasText = "queryInstance" })).ToContainTextAsync("Failed");
        await Assertions.Expect(page.Locator("#dial-cases tbody tr").Filter(new() { HasText = "newInstance" })).ToContainTextAsync("120");
        await Assertions.Expect(page.Locator("#dial-days li")).ToHaveCountAsync(7);
        await Assertions.Expect(page.Locator("#dial-days li").Last).ToContainTextAsync("1 of 1 failed");
    }

    [Fact]
    public async Task The_overview_lists_each_synced_application_with_its_login_address()
    {
        var secret = KooGallery.Protocol.Crypto.ClientSecretCipher.Encrypt(MerchantKey, "crm-secret-0123456789");
        await KitCalls.SendAsync(market.App, "applicationSync", $$"""{"appId":"crm","clientId":"acme-crm","clientSecret":"{{secret}}","flag":1,"instanceId":"{{failedInstance}}","tenantId":"T-ACME","testFlag":1}""");

        var page = await SignedInAsync();

        var row = page.Locator("#login-addresses tbody tr").Filter(new() { HasText = "crm" });
        // Beside the registered callback address (the sample's), whatever host the console is read on.
        await Assertions.Expect(row).ToContainTextAsync(market.App.Settings["Login:CallbackUrl"]!.Replace("/callback", "/crm", StringComparison.Ordinal));
        await Assertions.Expect(row.Locator("td").Last).ToHaveTextAsync("1");
    }

    [Fact]
    public async Task Finding_an_order_shows_its_timeline()
    {
        var page = await SignedInAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Find" }).ClickAsync();
        await page.GetByLabel("Order id, instance id, customer id or licence code").FillAsync("CS2611290501");
        await page.Keyboard.PressAsync("Enter");

        var found = page.Locator("#find-results article");
        await Assertions.Expect(found).ToContainTextAsync($"Instance {failedInstance}");
        await Assertions.Expect(found.Locator(".timeline li").First).ToContainTextAsync("newInstance");
        await Assertions.Expect(found.Locator(".timeline")).ToContainTextAsync("Failed");
    }

    [Fact]
    public async Task Re_driving_a_failed_instance_asks_first_and_the_instance_becomes_ready()
    {
        var page = await SignedInAsync(width: 390); // a phone
        await page.GetByRole(AriaRole.Button, new() { Name = $"Re-drive instance {failedInstance}" }).ClickAsync();
        await Assertions.Expect(page.Locator("#confirm")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#confirm-text")).ToContainTextAsync(failedInstance);
        await page.Keyboard.PressAsync("Enter"); // the focused Confirm button, keyboard only

        await Assertions.Expect(page.Locator("#status")).ToContainTextAsync("re-driven to Provisioning");
        await market.DrainAsync();
        var instance = (await market.InstanceAsync(failedInstance))!;
        Assert.Equal(nameof(InstanceState.Ready), instance.State);
        var log = await market.App.Services.GetRequiredService<InstanceRepository>().EventsAsync(failedInstance, CancellationToken.None);
        Assert.Contains(log, e => e.Kind == "redriven" && (e.Detail ?? string.Empty).Contains("by operator key #0", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unauthenticated_visitor_gets_the_sign_in_and_no_data()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync(new Uri(host.BaseUrl, "api/console").ToString());
        await Assertions.Expect(page.Locator("#signin")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#overview")).ToBeHiddenAsync();
        Assert.DoesNotContain("CS2611290502", await page.ContentAsync(), StringComparison.Ordinal);

        // Straight to the data endpoint: a forged principal header is not trusted without App Service Authentication, nor is a wrong key.
        var forged = Convert.ToBase64String("""{"claims":[{"typ":"roles","val":"KooGallery.Operator"}]}"""u8.ToArray());
        foreach (var headers in new[] { new Dictionary<string, string>(), new() { ["X-MS-CLIENT-PRINCIPAL"] = forged }, new() { ["X-KooGallery-Operator-Key"] = "wrong-key-wrong-key-wrong-key" } })
        {
            var response = await page.APIRequest.GetAsync(new Uri(host.BaseUrl, "api/ops/console/overview").ToString(), new() { Headers = headers });
            Assert.Equal(401, response.Status);
            Assert.DoesNotContain("CS2611290502", await response.TextAsync(), StringComparison.Ordinal);
        }
    }
}
