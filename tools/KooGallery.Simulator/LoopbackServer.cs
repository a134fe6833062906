using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KooGallery.Simulator;

/// <summary>A small Kestrel app on a loopback address (port 0 = a free one), started in-process or standalone.</summary>
public abstract class LoopbackServer : IAsyncDisposable
{
    private WebApplication? app;

    /// <summary>The address actually bound, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public Uri BaseUrl { get; private set; } = new("http://127.0.0.1/");

    protected async Task StartAsync(string urls, bool quiet, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls(urls);
        if (quiet)
        {
            builder.Logging.ClearProviders();
        }

        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o => o.AllowSynchronousIO = false);
        app = builder.Build();
        Map(app);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
    }

    protected abstract void Map(WebApplication app);

    /// <summary>
    /// Applies a transport-level fault shared by every loopback server (error status, 429 with
    /// <c>Retry-After</c>, dropped connection, slow answer). True when the request has been answered;
    /// <see cref="Fault.BusinessError"/> is left to the server, whose business answers differ.
    /// </summary>
    protected static async Task<bool> AnsweredByFaultAsync(Fault? fault, HttpContext context, string errorBody)
    {
        switch (fault)
        {
            case Fault.ServerError e:
                context.Response.StatusCode = e.Status;
                await context.Response.WriteAsync(errorBody).ConfigureAwait(false);
                return true;
            case Fault.TooManyRequests e:
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = e.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                await context.Response.WriteAsync(errorBody).ConfigureAwait(false);
                return true;
            case Fault.DropConnection:
                context.Abort();
                return true;
            case Fault.Malformed e:
                context.Response.StatusCode = 200;
                context.Response.ContentType = e.Body.StartsWith('<') ? "text/html" : "application/json;charset=UTF-8";
                await context.Response.WriteAsync(e.Body).ConfigureAwait(false);
                return true;
            case Fault.Slow e:
                await Task.Delay(e.Delay, context.RequestAborted).ConfigureAwait(false);
                return false;
            default:
                return false;
        }
    }

    public Task WaitForShutdownAsync(CancellationToken cancellationToken) => app!.WaitForShutdownAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        if (app is not null)
        {
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }
}
