using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace KooGallery.Simulator;

/// <summary>A user the identity provider signs in.</summary>
public sealed record IdpUser(string UserName, string Name, string Email);

/// <summary>
/// A small OneAccess-style OAuth 2.0 identity provider (§5.12) on loopback, standing in for a buying
/// enterprise's identity domain: an authorize page with a test user (sign in or cancel), a token endpoint that
/// takes each code once (with PKCE S256 when the code was issued with a challenge) and only within
/// <see cref="CodeLifetime"/>, and userinfo. It also plays KooGallery's unified login platform starting a
/// sign-in itself: <c>/portal/launch</c> signs the user in and sends the browser to an application's login
/// address with a code and the tenant code, and no state of the application's.
/// </summary>
public sealed class IdentityProvider : LoopbackServer
{
    private readonly ConcurrentDictionary<string, string> clients = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IssuedCode> codes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IdpUser> tokens = new(StringComparer.Ordinal);

    private IdentityProvider()
    {
    }

    /// <summary>The user the authorize page signs in (a test user; change it per test).</summary>
    public IdpUser User { get; set; } = new("alice", "Alice Example", "alice@example.com");

    /// <summary>How long a code may be redeemed (OneAccess: minutes); <see cref="TimeSpan.Zero"/> makes every code expired.</summary>
    public TimeSpan CodeLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The redirect parameter that names the tenant when the platform starts a sign-in (null: none is sent).</summary>
    public string? PlatformTenantParameter { get; set; } = "tenantCode";

    /// <summary>The redirect parameter that names this identity domain (host and port) when the platform starts a sign-in (null: none).</summary>
    public string? PlatformDomainParameter { get; set; }

    /// <summary>Token requests refused because the code was unknown, used already, expired, or did not match.</summary>
    public int RefusedCodes => Volatile.Read(ref refused);

    private int refused;

    public static async Task<IdentityProvider> LaunchAsync(string urls = "http://127.0.0.1:0", bool quiet = true, CancellationToken cancellationToken = default)
    {
        var idp = new IdentityProvider();
        await idp.BindAsync(urls, quiet, cancellationToken).ConfigureAwait(false);
        return idp;
    }

    private Task BindAsync(string urls, bool quiet, CancellationToken cancellationToken) => base.StartAsync(urls, quiet, cancellationToken);

    /// <summary>Registers an application credential (what applicationSync carries).</summary>
    public void AddClient(string clientId, string clientSecret) => clients[clientId] = clientSecret;

    protected override void Map(WebApplication app)
    {
        app.MapGet("/api/v1/oauth2/authorize", Authorize);
        app.MapGet("/portal/launch", Launch);
        app.MapPost("/api/v1/oauth2/authorize", Decide);
        app.MapPost("/api/v1/oauth2/token", Token);
        app.MapGet("/api/v1/oauth2/userinfo", UserInfo);
    }

    private Task Authorize(HttpContext context)
    {
        var q = context.Request.Query;
        if (q["response_type"] != "code" || !clients.ContainsKey(q["client_id"].ToString()) || !Uri.TryCreate(q["redirect_uri"], UriKind.Absolute, out _))
        {
            context.Response.StatusCode = 400;
            return context.Response.WriteAsync("invalid authorize request");
        }

        string Hidden(string name) => $"""<input type="hidden" name="{name}" value="{WebUtility.HtmlEncode(q[name].ToString())}">""";
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync($$"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Enterprise sign-in</title></head><body>
            <h1>Enterprise sign-in</h1><p>Signing in as <strong id="user">{{WebUtility.HtmlEncode(User.UserName)}}</strong>.</p>
            <form method="post">{{Hidden("client_id")}}{{Hidden("redirect_uri")}}{{Hidden("state")}}{{Hidden("code_challenge")}}{{Hidden("code_challenge_method")}}
            <button id="signin" name="decision" value="allow">Sign in</button> <button id="cancel" name="decision" value="deny">Cancel</button></form></body></html>
            """);
    }

    /// <summary>The platform's own start: the user signs in here and is sent to the application's login address.</summary>
    private Task Launch(HttpContext context)
    {
        var q = context.Request.Query;
        if (!clients.ContainsKey(q["client_id"].ToString()) || !Uri.TryCreate(q["redirect_uri"], UriKind.Absolute, out _))
        {
            context.Response.StatusCode = 400;
            return context.Response.WriteAsync("invalid launch request");
        }

        string Hidden(string name) => $"""<input type="hidden" name="{name}" value="{WebUtility.HtmlEncode(q[name].ToString())}">""";
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync($$"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Unified login</title></head><body>
            <h1>Unified login</h1><p>Signing in as <strong id="user">{{WebUtility.HtmlEncode(User.UserName)}}</strong> to open the application.</p>
            <form method="post" action="/api/v1/oauth2/authorize">{{Hidden("client_id")}}{{Hidden("redirect_uri")}}{{Hidden("tenant_code")}}
            <button id="signin" name="decision" value="allow">Sign in</button> <button id="cancel" name="decision" value="deny">Cancel</button></form></body></html>
            """);
    }

    private async Task Decide(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync().ConfigureAwait(false);
        var redirect = form["redirect_uri"].ToString();
        var state = Uri.EscapeDataString(form["state"].ToString());
        var separator = redirect.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        if (form["decision"] != "allow")
        {
            context.Response.Redirect($"{redirect}{separator}error=access_denied&error_description={Uri.EscapeDataString("The user cancelled the sign-in.")}&state={state}");
            return;
        }

        var code = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        codes[code] = new IssuedCode(form["client_id"].ToString(), redirect, form["code_challenge"].ToString(), User, DateTimeOffset.UtcNow + CodeLifetime);
        if (form.ContainsKey("tenant_code"))
        {
            // Started by the platform: no state of the application's; the tenant named as the platform names it.
            var tenant = PlatformTenantParameter is { } name ? $"&{name}={Uri.EscapeDataString(form["tenant_code"].ToString())}" : string.Empty;
            var domain = PlatformDomainParameter is { } domainName ? $"&{domainName}={Uri.EscapeDataString(BaseUrl.Authority)}" : string.Empty;
            context.Response.Redirect($"{redirect}{separator}code={code}{tenant}{domain}");
            return;
        }

        context.Response.Redirect($"{redirect}{separator}code={code}&state={state}");
    }

    private async Task Token(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync().ConfigureAwait(false);
        var clientId = form["client_id"].ToString();
        if (!clients.TryGetValue(clientId, out var secret) || secret != form["client_secret"])
        {
            await Error(context, 401, "invalid_client", "unknown client or wrong secret").ConfigureAwait(false);
            return;
        }

        // Single use: the code is gone whatever happens next.
        if (form["grant_type"] != "authorization_code" || !codes.TryRemove(form["code"].ToString(), out var issued) || issued.ClientId != clientId
            || issued.Expires <= DateTimeOffset.UtcNow
            || (form.ContainsKey("redirect_uri") && form["redirect_uri"] != issued.RedirectUri)
            || (!string.IsNullOrEmpty(issued.Challenge) && issued.Challenge != Challenge(form["code_verifier"].ToString())))
        {
            Interlocked.Increment(ref refused);
            await Error(context, 400, "invalid_grant", "the authorization code is invalid, expired or already used").ConfigureAwait(false);
            return;
        }

        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        tokens[token] = issued.User;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new { access_token = token, token_type = "Bearer", expires_in = 7200, scope = "get_user_info", refresh_token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)) })).ConfigureAwait(false);
    }

    private Task UserInfo(HttpContext context)
    {
        var auth = context.Request.Headers.Authorization.ToString();
        if (!auth.StartsWith("Bearer ", StringComparison.Ordinal) || !tokens.TryGetValue(auth["Bearer ".Length..], out var user))
        {
            return Error(context, 401, "unauthorized", "invalid access token");
        }

        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new { id = "20201029190841785-" + user.UserName, name = user.Name, userName = user.UserName, email = user.Email }));
    }

    private static Task Error(HttpContext context, int status, string error, string description)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(new { error, error_description = description }));
    }

    private static string Challenge(string verifier) =>
        Convert.ToBase64String(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private sealed record IssuedCode(string ClientId, string RedirectUri, string Challenge, IdpUser User, DateTimeOffset Expires);
}
