using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KooGallery.Functions.JointOperation;

/// <summary>
/// The product's "application login address" (§5.12): <c>GET /api/login?tenant=…</c> starts the sign-in
/// at the tenant's identity domain; <c>GET /api/login/callback</c> finishes it. Anonymous: the user is not
/// signed in yet; every failure is a readable page with what to do next and a correlation id.
/// </summary>
public sealed class LoginFunctions(LoginService login)
{
    [Function("LoginStart")]
    public async Task<IActionResult> Start(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "login")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var tenant = request.Query["tenant"].FirstOrDefault() ?? request.Query["tenantCode"].FirstOrDefault();
        var callback = new Uri($"{request.Scheme}://{request.Host}{request.PathBase}/api/login/callback");
        return Respond(request, await login.StartAsync(tenant, callback, cancellationToken).ConfigureAwait(false));
    }

    [Function("LoginCallback")]
    public async Task<IActionResult> Callback(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "login/callback")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        string? Q(string name) => request.Query[name].FirstOrDefault();
        var step = await login.CallbackAsync(Q("code"), Q("state"), Q("error"), Q("error_description"), request.Cookies[LoginService.CookieName], cancellationToken).ConfigureAwait(false);
        return Respond(request, step);
    }

    private static IActionResult Respond(HttpRequest request, LoginStep step)
    {
        if (step.SetCookie is not null)
        {
            request.HttpContext.Response.Headers.Append("Set-Cookie", step.SetCookie);
        }

        request.HttpContext.Response.Headers.CacheControl = "no-store";
        if (step.Failure is { } f)
        {
            return new ContentResult { StatusCode = f.Status, ContentType = "text/html; charset=utf-8", Content = Page(f) };
        }

        return new RedirectResult(step.RedirectTo!, permanent: false);
    }

    private static string Page(LoginFailure f) => $$"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{WebUtility.HtmlEncode(f.Title)}}</title>
        <style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2328}h1{font-size:1.4rem}.id{color:#59636e;font-size:.9rem}</style></head>
        <body><main><h1>{{WebUtility.HtmlEncode(f.Title)}}</h1><p>{{WebUtility.HtmlEncode(f.Message)}}</p><p><strong>What to do:</strong> {{WebUtility.HtmlEncode(f.NextStep)}}</p>
        <p class="id">Correlation id: <code id="correlation">{{WebUtility.HtmlEncode(f.CorrelationId)}}</code> — give it to support.</p></main></body></html>
        """;
}
