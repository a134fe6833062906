using System.Net;
using KooGallery.Functions.Callbacks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;

namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>
/// Lets any HttpClient-based caller (the simulator's conformance suite) reach the app in-process: each
/// request becomes a real ASP.NET Core <see cref="HttpRequest"/> for the <see cref="ProductionInterface"/>
/// function class, and its result is executed into a real response, headers included.
/// </summary>
public sealed class FunctionAppHandler(TestApp app, Func<HttpResponseMessage, Task>? tamper = null) : HttpMessageHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken);
        var context = SignedCall.Raw(body, request.RequestUri!.Query);
        context.Request.Method = request.Method.Method;

        foreach (var header in request.Headers)
        {
            context.Request.Headers[header.Key] = header.Value.ToArray();
        }

        const string kit = "/produceAPI/v2/";
        var path = request.RequestUri.AbsolutePath;
        var result = path.Contains(kit, StringComparison.Ordinal)
            ? await app.Function<KitSyncInterface>().Run(context.Request, path[(path.IndexOf(kit, StringComparison.Ordinal) + kit.Length)..], cancellationToken)
            : await app.Function<ProductionInterface>().Run(context.Request, cancellationToken);
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));

        var response = new HttpResponseMessage((HttpStatusCode)context.Response.StatusCode)
        {
            Content = new ByteArrayContent(((MemoryStream)context.Response.Body).ToArray()),
            RequestMessage = request,
        };
        foreach (var header in context.Response.Headers)
        {
            if (!response.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray()))
            {
                response.Content.Headers.TryAddWithoutValidation(header.Key, header.Value.ToArray());
            }
        }

        if (tamper is not null)
        {
            await tamper(response);
        }

        return response;
    }
}
