using KooGallery.Functions.Operations;
using KooGallery.Functions.Tests.Infrastructure;
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
/// The operator console's functions served over real HTTP on loopback, routed as the Functions host routes
/// them (<c>/api/console/{file?}</c>, <c>/api/ops/console/…</c>), each request answered by the app's own
/// function class, against Azurite.
/// </summary>
public sealed class ConsoleHost : IAsyncDisposable
{
    private readonly WebApplication web;

    private ConsoleHost(WebApplication web, Uri baseUrl)
    {
        this.web = web;
        BaseUrl = baseUrl;
    }

    public Uri BaseUrl { get; }

    public static async Task<ConsoleHost> StartAsync(TestApp app)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddMvcCore();
        var web = builder.Build();
        ConsoleFunctions Functions() => app.Function<ConsoleFunctions>();
        web.MapGet("/api/console/{file?}", ctx => Run(ctx, Task.FromResult(Functions().Page(ctx.Request, ctx.Request.RouteValues["file"] as string))));
        web.MapGet("/api/ops/console/overview", ctx => Run(ctx, Functions().Overview(ctx.Request, ctx.RequestAborted)));
        web.MapGet("/api/ops/console/find", ctx => Run(ctx, Functions().Find(ctx.Request, ctx.RequestAborted)));
        web.MapPost("/api/ops/console/redrive", ctx => Run(ctx, Functions().RedriveAll(ctx.Request, ctx.RequestAborted)));
        web.MapPost("/api/ops/console/instances/{instanceId}/redrive", ctx => Run(ctx, Functions().RedriveInstance(ctx.Request, (string)ctx.Request.RouteValues["instanceId"]!, ctx.RequestAborted)));
        web.MapPost("/api/ops/console/usage/parked/{id}/redrive", ctx => Run(ctx, Functions().RedriveParkedUsage(ctx.Request, (string)ctx.Request.RouteValues["id"]!, ctx.RequestAborted)));
        await web.StartAsync();
        var address = new Uri(web.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return new ConsoleHost(web, new Uri($"http://localhost:{address.Port}/"));

        static async Task Run(HttpContext ctx, Task<IActionResult> result) =>
            await (await result).ExecuteResultAsync(new ActionContext(ctx, new RouteData(), new ActionDescriptor()));
    }

    public async ValueTask DisposeAsync()
    {
        await web.StopAsync();
        await web.DisposeAsync();
    }
}
