using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KooGallery.Functions.JointOperation;

/// <summary>
/// Sign-on for joint-operation products (§5.12). Each application's <b>login address</b>
/// <c>GET /api/login/{application}</c> receives KooGallery's unified login platform's redirect with a code (the
/// platform-initiated flow); opened without a code it starts the app-initiated flow for that application.
/// <c>GET /api/login?tenant=…</c> starts the app-initiated flow (PKCE and a state cookie) and
/// <c>GET /api/login/callback</c> finishes it. Anonymous: the user is not signed in yet; every failure is a
/// readable page with what to do next and a correlation id. <c>GET /api/ops/login-addresses</c> (master key)
/// lists every synced application's login address, to copy into the seller console.
/// </summary>
public sealed class LoginFunctions(LoginService login, KitSyncService kit, Microsoft.Extensions.Options.IOptionsMonitor<LoginOptions> options)
{
    [Function("LoginStart")]
    public async Task<IActionResult> Start(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "login")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var tenant = request.Query["tenant"].FirstOrDefault() ?? request.Query["tenantCode"].FirstOrDefault();
        var application = request.Query["application"].FirstOrDefault();
        return Respond(request, await login.StartAsync(tenant, application, CallbackOf(request), cancellationToken).ConfigureAwait(false));
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

    /// <summary>An application's login address: the platform's redirect (with <c>code</c>), or a user starting here.</summary>
    [Function("LoginAtApplication")]
    public async Task<IActionResult> Application(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "login/{application}")] HttpRequest request,
        string application,
        CancellationToken cancellationToken)
    {
        string? Q(string name) => request.Query[name].FirstOrDefault() is { Length: > 0 } v ? v : null;
        string? First(string names) => names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Q).FirstOrDefault(v => v is not null);
        var settings = options.CurrentValue;
        var tenantCode = First(settings.PlatformTenantParameters);
        if (Q("code") is null && Q("error") is null)
        {
            return Respond(request, await login.StartAsync(tenantCode, application, CallbackOf(request), cancellationToken).ConfigureAwait(false));
        }

        var redirect = new PlatformRedirect(Q("code"), Q("error"), Q("error_description"), tenantCode, First(settings.PlatformDomainParameters), request.Host.Host, Origin(request));
        return Respond(request, await login.PlatformAsync(application, redirect, cancellationToken).ConfigureAwait(false));
    }

    /// <summary><c>GET /api/ops/login-addresses</c>: each synced application, its login address and how many tenants have it.</summary>
    [Function("LoginAddresses")]
    public async Task<IActionResult> Addresses(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/login-addresses")] HttpRequest request,
        CancellationToken cancellationToken) =>
        new OkObjectResult(await LoginAddressList.ReadAsync(kit, login, Origin(request), cancellationToken).ConfigureAwait(false));

    private static Uri Origin(HttpRequest request) => Http.RequestOrigin.Of(request);

    private static Uri CallbackOf(HttpRequest request) => new(Origin(request), "api/login/callback");

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

/// <summary>Every synced application with its login address, for the console and the master-key endpoint.</summary>
public static class LoginAddressList
{
    public static async Task<IReadOnlyList<object>> ReadAsync(KitSyncService kit, LoginService login, Uri origin, CancellationToken cancellationToken) =>
        (await kit.ApplicationNamesAsync(200, cancellationToken).ConfigureAwait(false))
            .Select(a => (object)new { application = a.Application, loginAddress = login.LoginAddress(a.Application, origin), tenants = a.Tenants })
            .ToList();
}
