using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KooGallery.Functions.Tests.Browser;

/// <summary>
/// Kestrel on a free loopback port with the routes a test maps to the app's function classes, as the
/// Functions host's ASP.NET Core integration serves them, so a real browser talks real HTTP to them.
/// </summary>
public static class LoopbackWeb
{
    /// <returns>The started app and <c>http://localhost:port/</c> (a name browsers treat as a secure context, so <c>Secure</c> cookies work).</returns>
    public static async Task<(WebApplication Web, Uri BaseUrl)> StartAsync(Action<WebApplication> map)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddMvcCore();
        var web = builder.Build();
        map(web);
        await web.StartAsync();
        var address = new Uri(web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return (web, new Uri($"http://localhost:{address.Port}/"));
    }

    /// <summary>Writes a function's <see cref="IActionResult"/> to the response, as the host does.</summary>
    public static async Task ExecuteAsync(HttpContext context, IActionResult result) =>
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
}
