using System.Net;
using KooGallery.Functions.JointOperation;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace KooGallery.Functions.Tests.Browser;

/// <summary>
/// The app's sign-on functions served over real HTTP on loopback (Kestrel, as the Functions host's ASP.NET Core
/// integration serves them), so a real browser can follow the redirects and apply its cookie rules; plus a
/// stand-in for the merchant SaaS's front end, which shows the ticket it received.
/// </summary>
public sealed class LoginHost : IAsyncDisposable
{
    private readonly WebApplication web;

    private LoginHost(WebApplication web, Uri baseUrl)
    {
        this.web = web;
        BaseUrl = baseUrl;
    }

    /// <summary><c>http://localhost:port</c>: a name browsers treat as a secure context, so <c>Secure</c> cookies work over HTTP.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The app whose function classes answer; set once it is started (it needs this host's address first).</summary>
    public TestApp? App { get; set; }

    public static async Task<LoginHost> StartAsync()
    {
        LoginHost? host = null;
        var (web, baseUrl) = await LoopbackWeb.StartAsync(web =>
        {
            LoopbackWeb.MapFunctions(web, typeof(LoginFunctions), () => host!.App!.Function<LoginFunctions>());
            web.MapGet("/frontend/{instanceId}", ctx =>
            {
                ctx.Response.ContentType = "text/html; charset=utf-8";
                return ctx.Response.WriteAsync($"""<!doctype html><html><body><h1>Front end</h1><p id="ticket">{WebUtility.HtmlEncode(ctx.Request.Query["ticket"])}</p></body></html>""");
            });
        });
        host = new LoginHost(web, baseUrl);
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await web.StopAsync();
        await web.DisposeAsync();
    }
}
