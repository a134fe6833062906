using System.Text;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.Signing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;

namespace KooGallery.Functions.Tests.Browser;

/// <summary>A kit sync as KooGallery sends it (x-sign headers with the kit Key), answered by the app's own function class.</summary>
public static class KitCalls
{
    public static async Task SendAsync(TestApp app, string sync, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var signed = KitSignature.Sign(TestApp.KitKey, bytes, app.Clock.GetUtcNow());
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Body = new MemoryStream(bytes);
        context.Request.Headers[KitSignature.SignHeader] = signed.Signature;
        context.Request.Headers[KitSignature.TimestampHeader] = signed.Timestamp;
        context.Request.Headers[KitSignature.NonceHeader] = signed.Nonce;
        context.Response.Body = new MemoryStream();
        var result = await app.Function<Callbacks.KitSyncInterface>().Run(context.Request, sync, CancellationToken.None);
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
        Assert.Contains("\"000000\"", Encoding.UTF8.GetString(((MemoryStream)context.Response.Body).ToArray()), StringComparison.Ordinal);
    }
}
