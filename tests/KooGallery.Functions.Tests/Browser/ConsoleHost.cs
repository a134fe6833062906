using KooGallery.Functions.Operations;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;

namespace KooGallery.Functions.Tests.Browser;

/// <summary>
/// The operator console's functions served over real HTTP on loopback, at the routes their own trigger
/// attributes give (<c>/api/console/{file?}</c>, <c>/api/ops/console/…</c>), each request answered by the app's
/// own function class, against Azurite.
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
        var (web, baseUrl) = await LoopbackWeb.StartAsync(web => LoopbackWeb.MapFunctions(web, typeof(ConsoleFunctions), () => app.Function<ConsoleFunctions>()));
        return new ConsoleHost(web, baseUrl);
    }

    public async ValueTask DisposeAsync()
    {
        await web.StopAsync();
        await web.DisposeAsync();
    }
}
