using KooGallery.Functions.JointOperation;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.Playwright;

namespace KooGallery.Functions.Tests.Browser;

/// <summary>
/// The buyer's single sign-on in a real headless Chromium: the app on loopback HTTP, the simulator's
/// OneAccess-style identity provider, the kit syncs that set the tenant up, and the browser's own cookie rules.
/// </summary>
[Collection(BrowserTestsRunOneAtATime.Name)]
public sealed class LoginBrowserTests : IAsyncLifetime
{
    /// <summary>A refusal page may have loaded before the wait began; the reads after it wait for their elements.</summary>
    private static readonly PageWaitForURLOptions Committed = new() { WaitUntil = WaitUntilState.Commit };

    private const string ClientId = "acme-app";
    private const string ClientSecret = "acme-client-secret-0123456789";

    private SignOnWorld world = null!;
    private IdentityProvider idp = null!;
    private string instanceId = null!;

    private LoginHost host => world.Host;

    private LocalMarketplace market => world.Market;

    private IBrowser browser => world.Browser;

    public async Task InitializeAsync()
    {
        world = await SignOnWorld.StartAsync();
        idp = await IdentityProvider.LaunchAsync();
        instanceId = await market.NewInstanceAsync("MOCKPERIODYEARNEW");
        await market.DrainAsync();
        await world.TenantAsync("T-ACME", "acme", idp, instanceId);
        await world.ApplicationAsync(idp, "T-ACME", null, ClientId, ClientSecret, instanceId);
        await world.AuthoriseAsync("T-ACME", instanceId, "alice");
    }

    public async Task DisposeAsync()
    {
        await world.DisposeAsync();
        await idp.DisposeAsync();
    }

    private string Login => host.BaseUrl + "api/login?tenant=acme";

    [Fact]
    public async Task An_authorised_user_lands_on_the_front_end_with_a_ticket_the_saas_can_verify()
    {
        var page = await browser.NewPageAsync();

        await page.GotoAsync(Login);
        await page.ClickAsync("#signin");
        await page.WaitForURLAsync(url => url.Contains("/frontend/", StringComparison.Ordinal));

        Assert.StartsWith(host.BaseUrl + "frontend/" + instanceId, page.Url, StringComparison.Ordinal);
        var ticket = await page.InnerTextAsync("#ticket");
        var validation = market.App.Services.GetRequiredService<LoginService>().TicketValidation(instanceId);
        var result = await new JsonWebTokenHandler().ValidateTokenAsync(ticket, validation);
        Assert.True(result.IsValid, result.Exception?.Message);
        Assert.Equal(("alice", "T-ACME", "acme", instanceId), (result.Claims["sub"], result.Claims["tenant_id"], result.Claims["tenant_code"], result.Claims["instance_id"]));
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == LoginService.CookieName);
    }

    [Fact]
    public async Task The_state_cookie_is_http_only_secure_and_lax_and_a_tampered_state_shows_its_page()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync(Login);
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == LoginService.CookieName);
        Assert.Equal((true, true, SameSiteAttribute.Lax), (cookie.HttpOnly, cookie.Secure, cookie.SameSite));

        var response = await page.GotoAsync(host.BaseUrl + "api/login/callback?code=whatever&state=not-the-state");

        Assert.Equal(400, response!.Status);
        Assert.Contains("no longer valid", await page.InnerTextAsync("h1"), StringComparison.Ordinal);
        Assert.Matches("^[0-9a-f]{12}$", await page.InnerTextAsync("#correlation"));
    }

    [Fact]
    public async Task A_replayed_code_is_refused_by_the_identity_provider_and_shows_its_page()
    {
        var page = await browser.NewPageAsync();
        string? callback = null;
        page.Request += (_, request) => callback ??= request.Url.Contains("/api/login/callback", StringComparison.Ordinal) ? request.Url : null;
        await page.GotoAsync(Login);
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == LoginService.CookieName);
        await page.ClickAsync("#signin");
        await page.WaitForURLAsync(url => url.Contains("/frontend/", StringComparison.Ordinal));

        // The same callback again, with the state cookie put back: the state matches, the code is spent.
        await page.Context.AddCookiesAsync([new Cookie { Name = cookie.Name, Value = cookie.Value, Domain = cookie.Domain, Path = cookie.Path, HttpOnly = true, Secure = true, SameSite = SameSiteAttribute.Lax }]);
        var response = await page.GotoAsync(callback!);

        Assert.Equal(502, response!.Status);
        Assert.Contains("already used", await page.InnerTextAsync("main"), StringComparison.Ordinal);
        Assert.Equal(1, idp.RefusedCodes);
    }

    [Fact]
    public async Task A_sign_in_cancelled_at_the_identity_provider_shows_its_page()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync(Login);

        await page.ClickAsync("#cancel");
        await page.WaitForURLAsync(url => url.Contains("/api/login/callback", StringComparison.Ordinal), Committed);

        Assert.Contains("refused the sign-in", await page.InnerTextAsync("h1"), StringComparison.Ordinal);
        Assert.Contains("cancelled", await page.InnerTextAsync("main"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_user_not_authorised_for_the_instance_and_an_unknown_enterprise_show_their_pages()
    {
        idp.User = new IdpUser("mallory", "Mallory", "mallory@example.com");
        var page = await browser.NewPageAsync();
        await page.GotoAsync(Login);
        await page.ClickAsync("#signin");
        await page.WaitForURLAsync(url => url.Contains("/api/login/callback", StringComparison.Ordinal), Committed);

        Assert.Contains("not authorised", await page.InnerTextAsync("h1"), StringComparison.Ordinal);
        Assert.Contains("mallory", await page.InnerTextAsync("main"), StringComparison.Ordinal);

        var unknown = await page.GotoAsync(host.BaseUrl + "api/login?tenant=nobody");
        Assert.Equal(404, unknown!.Status);
        Assert.Contains("Unknown enterprise", await page.InnerTextAsync("h1"), StringComparison.Ordinal);
    }
}
