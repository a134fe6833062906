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

    /// <summary>
    /// Maps every HTTP function of <paramref name="functions"/> at the route and verbs its own attributes give
    /// (<c>/api/</c> + route, as the host does), so a wrong route in a trigger fails the browser tests instead of
    /// hiding behind a route copied by hand. Route values bind to the method's parameters by name.
    /// </summary>
    public static void MapFunctions(WebApplication web, Type functions, Func<object> create)
    {
        foreach (var method in functions.GetMethods().Where(m => m.GetCustomAttributes(typeof(Microsoft.Azure.Functions.Worker.FunctionAttribute), false).Length > 0))
        {
            var trigger = method.GetParameters()
                .Select(p => (Microsoft.Azure.Functions.Worker.HttpTriggerAttribute?)p.GetCustomAttributes(typeof(Microsoft.Azure.Functions.Worker.HttpTriggerAttribute), false).FirstOrDefault())
                .FirstOrDefault(t => t is not null);
            if (trigger?.Route is not { } route)
            {
                continue;
            }

            web.MapMethods("/api/" + route, (trigger.Methods ?? ["GET"]).Select(m => m.ToUpperInvariant()), async ctx =>
            {
                var arguments = method.GetParameters().Select(p =>
                    p.ParameterType == typeof(HttpRequest) ? ctx.Request
                    : p.ParameterType == typeof(CancellationToken) ? ctx.RequestAborted
                    : (object?)(ctx.Request.RouteValues[p.Name!] as string)).ToArray();
                var result = method.Invoke(create(), arguments);
                await ExecuteAsync(ctx, result is Task<IActionResult> pending ? await pending : (IActionResult)result!);
            });
        }
    }

    /// <summary>Writes a function's <see cref="IActionResult"/> to the response, as the host does.</summary>
    public static async Task ExecuteAsync(HttpContext context, IActionResult result) =>
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
}
