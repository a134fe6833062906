using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Duende.IdentityModel;
using Duende.IdentityModel.Client;
using KooGallery.Functions.Instances;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace KooGallery.Functions.JointOperation;

/// <summary>Where a sign-in step leads: a redirect (with a cookie to set or clear) or a page explaining a failure.</summary>
public sealed record LoginStep(string? RedirectTo, string? SetCookie, LoginFailure? Failure);

/// <summary>What the unified login platform's redirect to a login address carried, read with the configured parameter names.</summary>
public sealed record PlatformRedirect(string? Code, string? Error, string? ErrorDescription, string? TenantCode, string? Domain, string Host, Uri RequestOrigin);

/// <summary>A failed sign-in, as the user reads it: what happened, what to do, a correlation id for support.</summary>
public sealed record LoginFailure(int Status, string Title, string Message, string NextStep, string CorrelationId);

/// <summary>
/// The buyer's single sign-on for joint-operation products (§5.12): the OAuth 2.0 authorisation-code
/// flow against the tenant's own identity domain (Huawei OneAccess), with PKCE and a <c>state</c> bound to a
/// short-lived signed cookie; the code is exchanged once, the user read from userinfo and checked against the
/// users KooGallery authorised (<c>authSync</c>), and the browser sent to the instance's front end with a
/// short-lived signed login ticket. Tokens are used once and never kept or logged.
/// </summary>
public sealed class LoginService(
    KitSyncService kit,
    InstanceRepository instances,
    IHttpClientFactory http,
    IOptionsMonitor<LoginOptions> options,
    TimeProvider time,
    ILogger<LoginService> logger)
{
    public const string CookieName = "kg_login";
    public const string HttpClientName = "oneaccess";

    /// <summary>
    /// Starts a sign-in the app drives (PKCE and a state cookie) for the tenant named by its code (or id), with the
    /// application the address names, or the tenant's only one.
    /// </summary>
    public async Task<LoginStep> StartAsync(string? tenant, string? application, Uri defaultCallback, CancellationToken cancellationToken)
    {
        var correlation = NewCorrelation();
        if (NotOffered(correlation, tenant) is { } off)
        {
            return off;
        }

        if (string.IsNullOrWhiteSpace(tenant) || tenant.Length > 64)
        {
            return Fail(400, "No enterprise given", "The sign-in link does not say which enterprise you belong to.", "Open the application from your enterprise's KooGallery console, or add ?tenant=<your tenant code> to the address.", correlation, tenant, "no tenant");
        }

        var found = await kit.TenantByCodeAsync(tenant, cancellationToken).ConfigureAwait(false);
        if (found is not { Deleted: false } t)
        {
            return UnknownEnterprise(correlation, tenant);
        }

        if (application is { Length: > 64 })
        {
            return Fail(404, "Unknown application", "This login address names no application of this service.", "Open the application from your enterprise's KooGallery console.", correlation, tenant, "application name too long");
        }

        var (app, problem) = await ApplicationAsync(t, application, correlation, cancellationToken).ConfigureAwait(false);
        if (app is null)
        {
            return problem!;
        }

        var settings = options.CurrentValue;
        var verifier = CryptoRandom.CreateUniqueId(32);
        var state = CryptoRandom.CreateUniqueId(32);
        var callback = CallbackUrl(defaultCallback);
        var cookie = new LoginState(state, verifier, t.TenantId, app.ClientId, callback, time.GetUtcNow().Add(settings.StateLifetime).ToUnixTimeSeconds());
        var authorize = new RequestUrl(Endpoint(t.DomainName, settings.AuthorizePath)).CreateAuthorizeUrl(
            clientId: app.ClientId,
            responseType: OidcConstants.ResponseTypes.Code,
            scope: settings.Scope,
            redirectUri: callback,
            state: state,
            codeChallenge: Challenge(verifier),
            codeChallengeMethod: OidcConstants.CodeChallengeMethods.Sha256);
        logger.LogInformation("Sign-in started for tenant {TenantId} ({TenantCode}), client {ClientId}, at {Domain} (correlation {CorrelationId}).", t.TenantId, t.TenantCode, app.ClientId, t.DomainName, correlation);
        return new LoginStep(authorize, SetCookie(Seal(cookie), settings.StateLifetime), null);
    }

    /// <summary>The identity provider sent the browser back: check the state, exchange the code, check the user, hand over.</summary>
    public async Task<LoginStep> CallbackAsync(string? code, string? state, string? error, string? errorDescription, string? cookie, CancellationToken cancellationToken)
    {
        var correlation = NewCorrelation();
        var login = options.CurrentValue.TicketKeys.Count == 0 ? null : Open(cookie);
        if (login is null || state is null || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(state), Encoding.UTF8.GetBytes(login.State)))
        {
            return Fail(400, "This sign-in link is no longer valid", "The sign-in took too long, was already used, or the link was changed.", "Start again from your enterprise's KooGallery console.", correlation, login?.TenantId, "state missing, expired or not matching", clear: true);
        }

        if (error is not null || string.IsNullOrEmpty(code))
        {
            return Refused(correlation, login.TenantId, error, errorDescription, clear: true);
        }

        var tenant = await kit.TenantAsync(login.TenantId, cancellationToken).ConfigureAwait(false);
        var app = tenant is null ? null : (await kit.ApplicationsAsync(login.TenantId, cancellationToken).ConfigureAwait(false)).FirstOrDefault(a => a.ClientId == login.ClientId);
        if (tenant is not { Deleted: false } || app is null)
        {
            return Fail(404, "Unknown enterprise", "Your enterprise is no longer set up for this application.", "Ask your enterprise administrator to check the subscription on KooGallery.", correlation, login.TenantId, "tenant or credential gone", clear: true);
        }

        return await FinishAsync(tenant, app, code, login.Callback, login.Verifier, correlation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// KooGallery's unified login platform sent a signed-in user to the application's login address with a code
    /// (<c>/api/login/{application}?code=…</c>). There is no state of this app's to check: the code is single-use,
    /// short-lived and redeemable only with this application's credential and this address as redirect URI, and the
    /// user must be authorised for the instance (docs/joint-operation.md). The tenant is the one the platform names
    /// (tenant code, identity domain, or the host's sub-domain), or the application's only tenant — never a guess.
    /// </summary>
    public async Task<LoginStep> PlatformAsync(string application, PlatformRedirect redirect, CancellationToken cancellationToken)
    {
        var correlation = NewCorrelation();
        if (NotOffered(correlation, redirect.TenantCode) is { } off)
        {
            return off;
        }

        if (redirect.Error is not null || string.IsNullOrEmpty(redirect.Code))
        {
            return Refused(correlation, redirect.TenantCode, redirect.Error, redirect.ErrorDescription, clear: false);
        }

        if (application.Length > 64 || redirect.Code.Length > 2048)
        {
            return Fail(404, "Unknown application", "This login address names no application of this service.", "Open the application from your enterprise's KooGallery console.", correlation, redirect.TenantCode, "application name or code too long");
        }

        var (tenant, problem) = await PlatformTenantAsync(application, redirect, correlation, cancellationToken).ConfigureAwait(false);
        if (tenant is null)
        {
            return problem!;
        }

        var (app, missing) = await ApplicationAsync(tenant, application, correlation, cancellationToken).ConfigureAwait(false);
        if (app is null)
        {
            return missing!;
        }

        return await FinishAsync(tenant, app, redirect.Code, LoginAddress(application, redirect.RequestOrigin), null, correlation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The application's login address, to copy into the seller console: the callback address with its last segment
    /// replaced by the application (so a gateway prefix carries over). In Development without a callback address,
    /// on the host the request came to.
    /// </summary>
    public string LoginAddress(string application, Uri requestOrigin)
    {
        var callback = CallbackUrl(new Uri(requestOrigin, "api/login/callback"));
        return callback[..(callback.LastIndexOf('/') + 1)] + Uri.EscapeDataString(application);
    }

    /// <summary>Exchanges the code with the application's credential, reads the user, checks the grant, hands over with a ticket.</summary>
    private async Task<LoginStep> FinishAsync(KitTenantEntity tenant, KitAppEntity app, string code, string redirectUri, string? verifier, string correlation, CancellationToken cancellationToken)
    {
        var clear = verifier is not null;
        var secret = await kit.ClientSecretAsync(tenant.TenantId, app.ClientId, cancellationToken).ConfigureAwait(false);
        if (secret is null)
        {
            return Fail(404, "Unknown enterprise", "Your enterprise is no longer set up for this application.", "Ask your enterprise administrator to check the subscription on KooGallery.", correlation, tenant.TenantId, "credential gone", clear);
        }

        var settings = options.CurrentValue;
        using var client = http.CreateClient(HttpClientName);
        var token = await client.RequestAuthorizationCodeTokenAsync(new AuthorizationCodeTokenRequest
        {
            Address = Endpoint(tenant.DomainName, settings.TokenPath),
            ClientId = app.ClientId,
            ClientSecret = secret,
            ClientCredentialStyle = ClientCredentialStyle.PostBody,
            Code = code,
            RedirectUri = redirectUri,
            CodeVerifier = verifier,
        }, cancellationToken).ConfigureAwait(false);
        if (token.IsError || string.IsNullOrEmpty(token.AccessToken))
        {
            return Fail(502, "Your identity provider refused the sign-in", $"It answered: {Cut(token.ErrorDescription ?? token.Error ?? "no token")}.", "Start again from your enterprise's KooGallery console (a sign-in link works once).", correlation, tenant.TenantId, $"token exchange failed for client {app.ClientId}: {token.Error}", clear);
        }

        var info = await client.GetUserInfoAsync(new UserInfoRequest { Address = Endpoint(tenant.DomainName, settings.UserInfoPath), Token = token.AccessToken }, cancellationToken).ConfigureAwait(false);
        var userName = info.IsError || info.Json is not { ValueKind: JsonValueKind.Object } json ? null : Text(json, "userName") ?? Text(json, "id");
        if (userName is null)
        {
            return Fail(502, "Your identity provider did not say who you are", "The user information could not be read.", "Try again; if it persists, contact your enterprise administrator.", correlation, tenant.TenantId, "userinfo failed", clear);
        }

        // The application's instance; an application synced without one signs in to the user's only granted instance.
        var grants = await kit.GrantsAsync(tenant.TenantId, userName, cancellationToken).ConfigureAwait(false);
        var instanceId = app.InstanceId is { Length: > 0 } named ? named
            : grants.Select(g => g.InstanceId).Where(i => !string.IsNullOrEmpty(i)).Distinct(StringComparer.Ordinal).ToList() is [var only] ? only : null;
        var grant = instanceId is null ? null : KitSyncService.GrantFor(grants, instanceId);
        var instance = grant is null ? null : await instances.GetAsync(instanceId!, cancellationToken).ConfigureAwait(false);
        if (instance is null || instance.IsReleased || string.IsNullOrEmpty(instance.FrontEndUrl))
        {
            return Fail(403, "You are not authorised for this application", $"The user {Cut(userName)} is not among the users your enterprise authorised for it.", "Ask your enterprise administrator to authorise you for the application in the KooGallery buyer console.", correlation, tenant.TenantId, $"user not authorised for instance {instanceId}", clear);
        }

        var ticket = Ticket(userName, Text(info.Json!.Value, "name"), tenant, instance.InstanceId);
        logger.LogInformation("Sign-in of user {UserName} of tenant {TenantId} to instance {InstanceId} through client {ClientId} (correlation {CorrelationId}).", userName, tenant.TenantId, instance.InstanceId, app.ClientId, correlation);
        var separator = instance.FrontEndUrl.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        return new LoginStep($"{instance.FrontEndUrl}{separator}ticket={Uri.EscapeDataString(ticket)}", clear ? ClearCookie() : null, null);
    }

    /// <summary>The tenant of a platform redirect: what the platform names, else the application's only tenant.</summary>
    private async Task<(KitTenantEntity? Tenant, LoginStep? Problem)> PlatformTenantAsync(string application, PlatformRedirect redirect, string correlation, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        var subdomain = settings.TenantFromSubdomain && redirect.Host.Split('.') is { Length: >= 3 } labels ? labels[0] : null;
        KitTenantEntity? tenant;
        string named;
        if (redirect.TenantCode is { Length: > 0 and <= 64 } code)
        {
            (tenant, named) = (await kit.TenantByCodeAsync(code, cancellationToken).ConfigureAwait(false), code);
        }
        else if (redirect.Domain is { Length: > 0 and <= 255 } domain)
        {
            (tenant, named) = (await kit.TenantByDomainAsync(domain, cancellationToken).ConfigureAwait(false), domain);
        }
        else if (subdomain is { Length: > 0 and <= 64 })
        {
            (tenant, named) = (await kit.TenantByCodeAsync(subdomain, cancellationToken).ConfigureAwait(false), subdomain);
        }
        else
        {
            var tenants = await kit.TenantsOfApplicationAsync(application, 2, cancellationToken).ConfigureAwait(false);
            if (tenants.Count != 1)
            {
                return (null, tenants.Count == 0
                    ? Fail(404, "Unknown application", $"No enterprise has the application '{Cut(application)}' set up with this service.", "Open the application from your enterprise's KooGallery console; if it persists, ask the application's provider to check its login address.", correlation, null, $"application {application} has no tenant")
                    : Fail(400, "Which enterprise?", "Several enterprises use this application and the sign-in did not say which one is yours.", "Open the application from your enterprise's KooGallery console.", correlation, null, $"application {application}: no tenant named and several have it"));
            }

            (tenant, named) = (await kit.TenantAsync(tenants[0].TenantId, cancellationToken).ConfigureAwait(false), tenants[0].TenantId);
        }

        return tenant is { Deleted: false } ? (tenant, null) : (null, UnknownEnterprise(correlation, named));
    }

    /// <summary>The application the address names among the tenant's, or its only one; never an arbitrary first.</summary>
    private async Task<(KitAppEntity? App, LoginStep? Problem)> ApplicationAsync(KitTenantEntity tenant, string? application, string correlation, CancellationToken cancellationToken)
    {
        var apps = await kit.ApplicationsAsync(tenant.TenantId, cancellationToken).ConfigureAwait(false);
        var app = application is null
            ? apps.Count == 1 ? apps[0] : null
            : apps.FirstOrDefault(a => a.AppId == application) ?? apps.FirstOrDefault(a => a.ClientId == application);
        if (app is not null)
        {
            return (app, null);
        }

        return (null, apps.Count == 0
            ? Fail(503, "Sign-in not ready yet", "Your enterprise's application credential has not reached this service yet.", "Try again in a few minutes; if it persists, ask your enterprise administrator to re-sync the application.", correlation, tenant.TenantId, "no application credential")
            : application is null
                ? Fail(400, "Which application?", "Your enterprise has several applications with this service and the sign-in did not say which one.", "Open the application from your enterprise's KooGallery console (each application has its own login address).", correlation, tenant.TenantId, "several applications, none named")
                : Fail(404, "Application not set up", $"Your enterprise has no application '{Cut(application)}' with this service.", "Ask your enterprise administrator to check the application in the KooGallery buyer console.", correlation, tenant.TenantId, $"tenant has no application {application}"));
    }

    private LoginStep? NotOffered(string correlation, string? tenant) =>
        options.CurrentValue.TicketKeys.Count == 0
            ? Fail(503, "Sign-in is not set up", "This application does not offer sign-in through your enterprise yet.", "Ask the application's provider to configure single sign-on (Login__TicketKeys__0).", correlation, tenant, "Login__TicketKeys__0 not set")
            : null;

    private LoginStep UnknownEnterprise(string correlation, string? tenant) =>
        Fail(404, "Unknown enterprise", $"No enterprise '{Cut(tenant ?? string.Empty)}' has been set up for this application.", "Ask your enterprise administrator to check the subscription on KooGallery.", correlation, tenant, "unknown tenant");

    private LoginStep Refused(string correlation, string? tenant, string? error, string? description, bool clear) =>
        Fail(502, "Your identity provider refused the sign-in", $"It answered: {Cut(description ?? error ?? "no authorisation code")}.", "Try again; if it persists, contact your enterprise administrator.", correlation, tenant, $"identity provider error {error}", clear);

    /// <summary>The parameters the merchant's SaaS validates a ticket with (its issuer and key); see docs/joint-operation.md.</summary>
    public TokenValidationParameters TicketValidation(string instanceId) => new()
    {
        ValidIssuer = options.CurrentValue.Issuer,
        ValidAudience = instanceId,
        IssuerSigningKeys = options.CurrentValue.TicketKeys.Select(TicketKey),
        ClockSkew = TimeSpan.FromSeconds(30),
    };

    private string Ticket(string userName, string? name, KitTenantEntity tenant, string instanceId)
    {
        var settings = options.CurrentValue;
        var now = time.GetUtcNow().UtcDateTime;
        var claims = new Dictionary<string, object>
        {
            [JwtRegisteredClaimNames.Sub] = userName,
            [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
            ["tenant_id"] = tenant.TenantId,
            ["tenant_code"] = tenant.TenantCode,
            ["instance_id"] = instanceId,
            ["idp"] = tenant.DomainName,
        };
        if (name is not null)
        {
            claims["name"] = name;
        }

        return new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = settings.Issuer,
            Audience = instanceId,
            Claims = claims,
            IssuedAt = now,
            NotBefore = now,
            Expires = now.Add(settings.TicketLifetime),
            SigningCredentials = new SigningCredentials(TicketKey(settings.TicketKeys[0]), SecurityAlgorithms.HmacSha256),
        });
    }

    /// <summary>The HMAC key of a ticket: the secret's UTF-8 bytes; its key id the first 8 hex digits of their SHA-256.</summary>
    public static SymmetricSecurityKey TicketKey(string secret) =>
        new(Encoding.UTF8.GetBytes(secret)) { KeyId = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)))[..8] };

    private string CallbackUrl(Uri defaultCallback) => options.CurrentValue.CallbackUrl is { Length: > 0 } configured ? configured : defaultCallback.ToString();

    private static string Endpoint(string domain, string path) => domain.TrimEnd('/') + path;

    private static string Challenge(string verifier) => System.Buffers.Text.Base64Url.EncodeToString(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    private static string? Text(JsonElement json, string name) =>
        json.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? KooGallery.Protocol.Wire.WireText.TryGetString(v) : null;

    private static string Cut(string value) => value.Length > 200 ? value[..200] : value;

    private static string NewCorrelation() => Guid.NewGuid().ToString("N")[..12];

    private LoginStep Fail(int status, string title, string message, string next, string correlation, string? tenant, string reason, bool clear = false)
    {
        logger.LogWarning("Sign-in failed for tenant {Tenant}: {Reason} (correlation {CorrelationId}).", tenant, reason, correlation);
        return new LoginStep(null, clear ? ClearCookie() : null, new LoginFailure(status, title, message, next, correlation));
    }

    private byte[] CookieKey() => SHA256.HashData(Encoding.UTF8.GetBytes("koogallery-login-state\n" + options.CurrentValue.TicketKeys[0]));

    private string Seal(LoginState state)
    {
        var payload = System.Buffers.Text.Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(state));
        return payload + "." + System.Buffers.Text.Base64Url.EncodeToString(HMACSHA256.HashData(CookieKey(), Encoding.ASCII.GetBytes(payload)));
    }

    private LoginState? Open(string? sealedState)
    {
        var parts = sealedState?.Split('.');
        if (parts is not { Length: 2 })
        {
            return null;
        }

        try
        {
            var expected = HMACSHA256.HashData(CookieKey(), Encoding.ASCII.GetBytes(parts[0]));
            if (!CryptographicOperations.FixedTimeEquals(expected, System.Buffers.Text.Base64Url.DecodeFromChars(parts[1])))
            {
                return null;
            }

            var state = JsonSerializer.Deserialize<LoginState>(System.Buffers.Text.Base64Url.DecodeFromChars(parts[0]));
            return state is not null && state.Expires > time.GetUtcNow().ToUnixTimeSeconds() ? state : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    private static string SetCookie(string value, TimeSpan lifetime) =>
        $"{CookieName}={value}; Max-Age={(int)lifetime.TotalSeconds}; Path=/api/login; HttpOnly; Secure; SameSite=Lax";

    private static string ClearCookie() => $"{CookieName}=; Max-Age=0; Path=/api/login; HttpOnly; Secure; SameSite=Lax";

    private sealed record LoginState(string State, string Verifier, string TenantId, string ClientId, string Callback, long Expires);
}
