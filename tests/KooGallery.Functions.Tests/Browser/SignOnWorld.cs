using System.Security.Cryptography;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.Crypto;
using KooGallery.Simulator;
using Microsoft.Playwright;

namespace KooGallery.Functions.Tests.Browser;

/// <summary>
/// Everything a sign-on browser test stands on: the app's login functions on loopback HTTP (with a stand-in
/// front end), the app itself against Azurite with the merchant's RSA key, Chromium, and the kit syncs that
/// set enterprises up as KooGallery would.
/// </summary>
public sealed class SignOnWorld : IAsyncDisposable
{
    private static readonly RSA MerchantKey = RSA.Create(3072);

    private SignOnWorld(LoginHost host, LocalMarketplace market, IPlaywright playwright, IBrowser browser)
    {
        Host = host;
        Market = market;
        Playwright = playwright;
        Browser = browser;
    }

    public LoginHost Host { get; }

    public LocalMarketplace Market { get; }

    public IPlaywright Playwright { get; }

    public IBrowser Browser { get; }

    public static async Task<SignOnWorld> StartAsync(Action<Dictionary<string, string?>>? configure = null)
    {
        var host = await LoginHost.StartAsync();
        var market = await LocalMarketplace.StartAsync(s =>
        {
            s["JointOperation:RsaPrivateKey"] = MerchantKey.ExportPkcs8PrivateKeyPem();
            s["Login:CallbackUrl"] = host.BaseUrl + "api/login/callback";
            s["Provisioning:BuiltIn:FrontEndUrlTemplate"] = host.BaseUrl + "frontend/{instanceId}";
            s["Provisioning:BuiltIn:AdminUrlTemplate"] = host.BaseUrl + "frontend/{instanceId}";
            configure?.Invoke(s);
        });
        host.App = market.App;
        var (playwright, browser) = await Chromium.LaunchAsync();
        return new SignOnWorld(host, market, playwright, browser);
    }

    public Task TenantAsync(string tenantId, string code, IdentityProvider idp, string instanceId) => KitCalls.SendAsync(Market.App, "tenantSync",
        $$"""{"domainName":"{{idp.BaseUrl.ToString().TrimEnd('/')}}","flag":1,"instanceId":"{{instanceId}}","name":"{{code}}","orderId":"CS-{{code}}","tenantCode":"{{code}}","tenantId":"{{tenantId}}","testFlag":1}""");

    /// <summary>An application credential, registered at the identity provider and synced to the app (without an appId when <paramref name="appId"/> is null).</summary>
    public Task ApplicationAsync(IdentityProvider idp, string tenantId, string? appId, string clientId, string secret, string instanceId)
    {
        idp.AddClient(clientId, secret);
        var app = appId is null ? string.Empty : $"\"appId\":\"{appId}\",";
        return KitCalls.SendAsync(Market.App, "applicationSync",
            $$"""{{{app}}"clientId":"{{clientId}}","clientSecret":"{{ClientSecretCipher.Encrypt(MerchantKey, secret)}}","flag":1,"instanceId":"{{instanceId}}","tenantId":"{{tenantId}}","testFlag":1}""");
    }

    public Task AuthoriseAsync(string tenantId, string instanceId, string user, bool add = true) => KitCalls.SendAsync(Market.App, "authSync",
        $$"""{"flag":{{(add ? 1 : 0)}},"instanceId":"{{instanceId}}","tenantId":"{{tenantId}}","testFlag":1,"userName":"{{user}}"}""");

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        Playwright.Dispose();
        await Market.DisposeAsync();
        await Host.DisposeAsync();
    }
}
