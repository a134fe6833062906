using System.Text;
using KooGallery.Functions.Callbacks;
using KooGallery.Protocol.Signing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;

namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>What the production interface sent back, read off a real HTTP response.</summary>
public sealed record CallbackReply(int StatusCode, byte[] Body, string? BodySign, string? ContentType)
{
    public string Text => Encoding.UTF8.GetString(Body);

    public string ResultCode => System.Text.Json.JsonDocument.Parse(Body).RootElement.GetProperty("resultCode").GetString()!;

    public string ResultMsg => System.Text.Json.JsonDocument.Parse(Body).RootElement.GetProperty("resultMsg").GetString()!;
}

/// <summary>Builds a real <see cref="HttpRequest"/> for the production interface and runs the function on it.</summary>
public static class SignedCall
{
    /// <summary>A request signed as KooGallery signs it, at the app's current (fake) time.</summary>
    public static HttpContext SignedRequest(TestApp app, string body, string? key = null, string? nonce = null, DateTimeOffset? at = null)
    {
        var signed = V2RequestSignature.Sign(key ?? TestApp.Key, body, at ?? app.Clock.GetUtcNow(), nonce);
        return Raw(Encoding.UTF8.GetBytes(body), signed.ToQueryString());
    }

    public static HttpContext Raw(byte[] body, string queryString)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Scheme = "https";
        context.Request.Host = new HostString("merchant.example.com");
        context.Request.Path = "/api/koogallery";
        context.Request.QueryString = new QueryString(queryString);
        context.Request.ContentType = "application/json;charset=utf8";
        context.Request.ContentLength = body.Length;
        context.Request.Body = new MemoryStream(body);
        context.Response.Body = new MemoryStream();
        return context;
    }

    /// <summary>Calls <see cref="ProductionInterface.Run"/> and executes its result against the response, as ASP.NET Core would.</summary>
    public static async Task<CallbackReply> SendAsync(TestApp app, HttpContext context)
    {
        var function = app.Function<ProductionInterface>();
        var result = await function.Run(context.Request, CancellationToken.None);
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
        var body = ((MemoryStream)context.Response.Body).ToArray();
        return new CallbackReply(
            context.Response.StatusCode,
            body,
            context.Response.Headers.TryGetValue(BodySign.HeaderName, out var sign) ? sign.ToString() : null,
            context.Response.ContentType);
    }

    public static Task<CallbackReply> SendSignedAsync(TestApp app, string body, string? key = null, string? nonce = null, DateTimeOffset? at = null) =>
        SendAsync(app, SignedRequest(app, body, key, nonce, at));
}
