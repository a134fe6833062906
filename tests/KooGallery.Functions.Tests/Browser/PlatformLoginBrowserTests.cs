using System.Text.Json;
using KooGallery.Functions.JointOperation;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Playwright;

namespace KooGallery.Functions.Tests.Browser;

/// <summary>
/// Sign-on as KooGallery's unified login platform drives it, in a real headless Chromium: the simulator's identity
/// providers (one per buying enterprise) play the platform and <b>start</b> the flow; the user signs in on the
/// platform's page and lands at the application's login address (<c>/api/login/{application}</c>), then at the
/// instance's front end with a ticket. Two enterprises share the application <c>crm</c>; Acme also has <c>erp</c>.
/// Alice may use Acme's crm, Carol both of Acme's, Bob Globex's crm.
/// </summary>
[Collection(BrowserTestsRunOneAtATime.Name)]
public sealed class PlatformLoginBrowserTests : IAsyncLifetime
{
    private SignOnWorld world = null!;
    private IdentityProvider acme = null!;
    private IdentityProvider globex = null!;
    private string acmeCrm = null!;
    private string acmeErp = null!;
    private string globexCrm = null!;

    private LoginHost host => world.Host;

    private LocalMarketplace market => world.Market;

    private IBrowser browser => world.Browser;

    public async Task InitializeAsync()
    {
        // "localhost" has no sub-domain: only the test that says so is affected by reading the tenant from the host.
        world = await SignOnWorld.StartAsync(s => s["Login:TenantFromSubdomain"] = "true");
        acme = await IdentityProvider.LaunchAsync();
        globex = await IdentityProvider.LaunchAsync();
        acmeCrm = await market.NewInstanceAsync("CS-ACME-CRM");
        acmeErp = await market.NewInstanceAsync("CS-ACME-ERP");
        globexCrm = await market.NewInstanceAsync("CS-GLOBEX-CRM");
        await market.DrainAsync();

        await world.TenantAsync("T-ACME", "acme", acme, acmeCrm);
        await world.TenantAsync("T-GLOBEX", "globex", globex, globexCrm);
        await world.ApplicationAsync(acme, "T-ACME", "crm", "acme-crm", "acme-crm-secret-0123456789", acmeCrm);
        await world.ApplicationAsync(acme, "T-ACME", "erp", "acme-erp", "acme-erp-secret-0123456789", acmeErp);
        await world.ApplicationAsync(globex, "T-GLOBEX", "crm", "globex-crm", "globex-crm-secret-0123456789", globexCrm);
        await world.AuthoriseAsync("T-ACME", acmeCrm, "alice");
        await world.AuthoriseAsync("T-ACME", acmeCrm, "carol");
        await world.AuthoriseAsync("T-ACME", acmeErp, "carol");
        await world.AuthoriseAsync("T-GLOBEX", globexCrm, "bob");
    }

    public async Task DisposeAsync()
    {
        await world.DisposeAsync();
        await acme.DisposeAsync();
        await globex.DisposeAsync();
    }

    private string LoginAddress(string application) => host.BaseUrl + "api/login/" + application;

    /// <summary>The platform's own page: the user signs in there and is sent to <paramref name="application"/>'s login address.</summary>
    private static string Launch(IdentityProvider idp, string clientId, string loginAddress, string tenantCode) =>
        $"{idp.BaseUrl}portal/launch?client_id={clientId}&redirect_uri={Uri.EscapeDataString(loginAddress)}&tenant_code={tenantCode}";

    private async Task<IPage> SignInAsync(IdentityProvider idp, string user, string clientId, string application, string tenantCode, string? loginAddress = null)
    {
        idp.User = new IdpUser(user, user.ToUpperInvariant(), user + "@example.com");
        var page = await browser.NewPageAsync();
        await page.GotoAsync(Launch(idp, clientId, loginAddress ?? LoginAddress(application), tenantCode));
        await page.ClickAsync("#signin");
        // Committed is enough: every read after this waits for its element, and waiting for "load" as well raced a
        // refusal page that had loaded before the wait began (a CI run timed out on it).
        await page.WaitForURLAsync(
            url => url.Contains("/frontend/", StringComparison.Ordinal) || url.Contains("/api/login/", StringComparison.Ordinal),
            new PageWaitForURLOptions { WaitUntil = WaitUntilState.Commit });
        return page;
    }

    private async Task<IDictionary<string, object>> LandedAsync(IPage page, string instanceId)
    {
        Assert.StartsWith(host.BaseUrl + "frontend/" + instanceId + "?ticket=", page.Url, StringComparison.Ordinal);
        var ticket = await page.InnerTextAsync("#ticket");
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(ticket, market.App.Services.GetRequiredService<LoginService>().TicketValidation(instanceId));
        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == LoginService.CookieName); // no state of the app's in this flow
        return result.Claims;
    }

    [Fact]
    public async Task The_platform_starts_the_sign_in_and_the_user_lands_on_the_instance_with_a_ticket()
    {
        var page = await SignInAsync(acme, "alice", "acme-crm", "crm", "acme");

        var claims = await LandedAsync(page, acmeCrm);
        Assert.Equal(("alice", "T-ACME", "acme", acmeCrm), (claims["sub"], claims["tenant_id"], claims["tenant_code"], claims["instance_id"]));
    }

    [Fact]
    public async Task Two_tenants_on_one_application_each_sign_in_to_their_own_instance()
    {
        var bob = await SignInAsync(globex, "bob", "globex-crm", "crm", "globex");
        Assert.Equal("T-GLOBEX", (await LandedAsync(bob, globexCrm))["tenant_id"]);

        var alice = await SignInAsync(acme, "alice", "acme-crm", "crm", "acme");
        Assert.Equal("T-ACME", (await LandedAsync(alice, acmeCrm))["tenant_id"]);
    }

    [Fact]
    public async Task One_tenant_with_two_applications_signs_in_to_the_one_the_address_names()
    {
        await LandedAsync(await SignInAsync(acme, "carol", "acme-erp", "erp", "acme"), acmeErp);
        await LandedAsync(await SignInAsync(acme, "carol", "acme-crm", "crm", "acme"), acmeCrm);
    }

    [Fact]
    public async Task A_user_authorised_for_instance_A_but_not_B_is_refused_at_B_and_a_revocation_in_A_leaves_B()
    {
        var alice = await SignInAsync(acme, "alice", "acme-erp", "erp", "acme");
        Assert.Contains("not authorised", await alice.InnerTextAsync("h1"), StringComparison.Ordinal);

        await world.AuthoriseAsync("T-ACME", acmeCrm, "carol", add: false);
        await LandedAsync(await SignInAsync(acme, "carol", "acme-erp", "erp", "acme"), acmeErp);
        var refused = await SignInAsync(acme, "carol", "acme-crm", "crm", "acme");
        Assert.Contains("not authorised", await refused.InnerTextAsync("h1"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_replayed_code_is_refused_and_shows_its_page()
    {
        acme.User = new IdpUser("alice", "Alice", "alice@example.com");
        var page = await browser.NewPageAsync();
        string? arrival = null;
        page.Request += (_, request) => arrival ??= request.Url.Contains("/api/login/crm?code=", StringComparison.Ordinal) ? request.Url : null;
        await page.GotoAsync(Launch(acme, "acme-crm", LoginAddress("crm"), "acme"));
        await page.ClickAsync("#signin");
        await page.WaitForURLAsync(url => url.Contains("/frontend/", StringComparison.Ordinal));

        var response = await page.GotoAsync(arrival!);

        Assert.Equal(502, response!.Status);
        Assert.Contains("already used", await page.InnerTextAsync("main"), StringComparison.Ordinal);
        Assert.Equal(1, acme.RefusedCodes);
    }

    [Fact]
    public async Task A_code_issued_for_another_application_is_refused()
    {
        // Issued to acme-crm, brought to erp's login address: redeemed with erp's credential, which the platform refuses.
        var page = await SignInAsync(acme, "carol", "acme-crm", "erp", "acme", LoginAddress("erp"));

        Assert.Contains("/api/login/erp", page.Url, StringComparison.Ordinal);
        Assert.Contains("refused the sign-in", await page.InnerTextAsync("h1"), StringComparison.Ordinal);
        Assert.Equal(1, acme.RefusedCodes);
    }

    [Fact]
    public async Task An_expired_code_is_refused()
    {
        acme.CodeLifetime = TimeSpan.Zero;

        var page = await SignInAsync(acme, "alice", "acme-crm", "crm", "acme");

        Assert.Contains("refused the sign-in", await page.InnerTextAsync("h1"), StringComparison.Ordinal);
        Assert.Contains("expired", await page.InnerTextAsync("main"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_tenant_named_the_only_tenant_of_an_application_is_found_and_a_shared_one_is_never_guessed()
    {
        acme.PlatformTenantParameter = null;

        await LandedAsync(await SignInAsync(acme, "carol", "acme-erp", "erp", "acme"), acmeErp);
        var shared = await SignInAsync(acme, "alice", "acme-crm", "crm", "acme");

        Assert.Contains("Which enterprise?", await shared.InnerTextAsync("h1"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("api/login/nothing?code=abc&tenantCode=acme", 404, "Application not set up")]
    [InlineData("api/login/crm?code=abc&tenantCode=nobody", 404, "Unknown enterprise")]
    [InlineData("api/login/crm?code=abc&domain=unknown.example.com", 404, "Unknown enterprise")]
    [InlineData("api/login/crm?error=access_denied&error_description=cancelled", 502, "refused the sign-in")]
    public async Task A_redirect_that_cannot_sign_in_shows_its_page(string path, int status, string title)
    {
        var page = await browser.NewPageAsync();

        var response = await page.GotoAsync(host.BaseUrl + path);

        Assert.Equal(status, response!.Status);
        Assert.Contains(title, await page.InnerTextAsync("h1"), StringComparison.Ordinal);
        Assert.Matches("^[0-9a-f]{12}$", await page.InnerTextAsync("#correlation"));
    }

    [Fact]
    public async Task The_platform_may_name_the_identity_domain_instead_of_the_tenant()
    {
        globex.PlatformTenantParameter = null;
        globex.PlatformDomainParameter = "domain";

        var page = await SignInAsync(globex, "bob", "globex-crm", "crm", "globex");

        Assert.Equal("T-GLOBEX", (await LandedAsync(page, globexCrm))["tenant_id"]);
    }

    [Fact]
    public async Task A_merchant_serving_tenants_on_sub_domains_has_the_tenant_read_from_the_host()
    {
        // The platform names no tenant; the request came to acme.saas.example.com (the merchant's per-tenant host).
        acme.PlatformTenantParameter = null;
        acme.User = new IdpUser("alice", "Alice", "alice@example.com");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var issued = await http.PostAsync(new Uri(acme.BaseUrl, "api/v1/oauth2/authorize"), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["decision"] = "allow", ["client_id"] = "acme-crm", ["redirect_uri"] = LoginAddress("crm"), ["tenant_code"] = "acme",
        }));
        var code = System.Web.HttpUtility.ParseQueryString(issued.Headers.Location!.Query)["code"];

        var step = await market.App.Services.GetRequiredService<LoginService>().PlatformAsync(
            "crm", new PlatformRedirect(code, null, null, null, null, "acme.saas.example.com", host.BaseUrl), CancellationToken.None);

        Assert.Null(step.Failure);
        Assert.StartsWith(host.BaseUrl + "frontend/" + acmeCrm + "?ticket=", step.RedirectTo, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_synced_application_has_its_login_address_listed()
    {
        var page = await browser.NewPageAsync();
        var response = await page.APIRequest.GetAsync(host.BaseUrl + "api/ops/login-addresses");
        var listed = JsonDocument.Parse(await response.TextAsync()).RootElement.EnumerateArray()
            .ToDictionary(a => a.GetProperty("application").GetString()!, a => (a.GetProperty("loginAddress").GetString(), a.GetProperty("tenants").GetInt32()));

        Assert.Equal((LoginAddress("crm"), 2), listed["crm"]);
        Assert.Equal((LoginAddress("erp"), 1), listed["erp"]);
    }
}
