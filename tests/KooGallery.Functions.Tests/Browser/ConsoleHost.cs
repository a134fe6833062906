using KooGallery.Functions.Operations;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

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
        ConsoleFunctions Functions() => app.Function<ConsoleFunctions>();
        var (web, baseUrl) = await LoopbackWeb.StartAsync(web =>
        {
            web.MapGet("/api/console/{file?}", ctx => LoopbackWeb.ExecuteAsync(ctx, Functions().Page(ctx.Request, ctx.Request.RouteValues["file"] as string)));
            web.MapGet("/api/ops/console/overview", async ctx => await LoopbackWeb.ExecuteAsync(ctx, await Functions().Overview(ctx.Request, ctx.RequestAborted)));
            web.MapGet("/api/ops/console/find", async ctx => await LoopbackWeb.ExecuteAsync(ctx, await Functions().Find(ctx.Request, ctx.RequestAborted)));
            web.MapPost("/api/ops/console/redrive", async ctx => await LoopbackWeb.ExecuteAsync(ctx, await Functions().RedriveAll(ctx.Request, ctx.RequestAborted)));
            web.MapPost("/api/ops/console/instances/{instanceId}/redrive", async ctx => await LoopbackWeb.ExecuteAsync(ctx, await Functions().RedriveInstance(ctx.Request, (string)ctx.Request.RouteValues["instanceId"]!, ctx.RequestAborted)));
            web.MapPost("/api/ops/console/usage/parked/{id}/redrive", async ctx => await LoopbackWeb.ExecuteAsync(ctx, await Functions().RedriveParkedUsage(ctx.Request, (string)ctx.Request.RouteValues["id"]!, ctx.RequestAborted)));
        });
        return new ConsoleHost(web, baseUrl);
    }

    public async ValueTask DisposeAsync()
    {
        await web.StopAsync();
        await web.DisposeAsync();
    }
}
