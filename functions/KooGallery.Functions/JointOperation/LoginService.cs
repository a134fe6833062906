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

    /// <summary>Starts a sign-in for the tenant named by its code (or id).</summary>
    public async Task<LoginStep> StartAsync(string? tenant, Uri defaultCallback, CancellationToken cancellationToken)
    {
        var correlation = NewCorrelation();
        if (options.CurrentValue.TicketKeys.Count == 0)
        {
            return Fail(503, "Sign-in is not set up", "This application does not offer sign-in through your enterprise yet.", "Ask the application's provider to configure single sign-on (Login__TicketKeys__0).", correlation, tenant, "Login__TicketKeys__0 not set");
        }

        if (string.IsNullOrWhiteSpace(tenant) || tenant.Length > 64)
        {
            return Fail(400, "No enterprise given", "The sign-in link does not say which enterprise you belong to.", "Open the application from your enterprise's KooGallery console, or add ?tenant=<your tenant code> to the address.", correlation, tenant, "no tenant");
        }

        var found = await kit.TenantByCodeAsync(tenant, cancellationToken).ConfigureAwait(false);
        if (found is not { Deleted: false } t)
        {
            return Fail(404, "Unknown enterprise", $"No enterprise '{tenant}' has been set up for this application.", "Ask your enterprise administrator to check the subscription on KooGallery.", correlation, tenant, "unknown tenant");
        }

        var app = await kit.FirstApplicationAsync(t.TenantId, cancellationToken).ConfigureAwait(false);
        if (app is null)
        {
            return Fail(503, "Sign-in not ready yet", "Your enterprise's application credential has not reached this service yet.", "Try again in a few minutes; if it persists, ask your enterprise administrator to re-sync the application.", correlation, tenant, "no application credential");
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
        logger.LogInformation("Sign-in started for tenant {TenantId} ({TenantCode}) at {Domain} (correlation {CorrelationId}).", t.TenantId, t.TenantCode, t.DomainName, correlation);
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
            return Fail(502, "Your identity provider refused the sign-in", $"It answered: {Cut(errorDescription ?? error ?? "no authorisation code")}.", "Try again; if it persists, contact your enterprise administrator.", correlation, login.TenantId, $"identity provider error {error}", clear: true);
        }

        var tenant = await kit.TenantAsync(login.TenantId, cancellationToken).ConfigureAwait(false);
        var secret = tenant is null ? null : await kit.ClientSecretAsync(login.TenantId, login.ClientId, cancellationToken).ConfigureAwait(false);
        if (tenant is not { Deleted: false } || secret is null)
        {
            return Fail(404, "Unknown enterprise", "Your enterprise is no longer set up for this application.", "Ask your enterprise administrator to check the subscription on KooGallery.", correlation, login.TenantId, "tenant or credential gone", clear: true);
        }

        var settings = options.CurrentValue;
        using var client = http.CreateClient(HttpClientName);
        var token = await client.RequestAuthorizationCodeTokenAsync(new AuthorizationCodeTokenRequest
        {
            Address = Endpoint(tenant.DomainName, settings.TokenPath),
            ClientId = login.ClientId,
            ClientSecret = secret,
            ClientCredentialStyle = ClientCredentialStyle.PostBody,
            Code = code,
            RedirectUri = login.Callback,
            CodeVerifier = login.Verifier,
        }, cancellationToken).ConfigureAwait(false);
        if (token.IsError || string.IsNullOrEmpty(token.AccessToken))
        {
            return Fail(502, "Your identity provider refused the sign-in", $"It answered: {Cut(token.ErrorDescription ?? token.Error ?? "no token")}.", "Start again from your enterprise's KooGallery console (a sign-in link works once).", correlation, login.TenantId, $"token exchange failed: {token.Error}", clear: true);
        }

        var info = await client.GetUserInfoAsync(new UserInfoRequest { Address = Endpoint(tenant.DomainName, settings.UserInfoPath), Token = token.AccessToken }, cancellationToken).ConfigureAwait(false);
        var userName = info.IsError || info.Json is not { ValueKind: JsonValueKind.Object } json ? null : Text(json, "userName") ?? Text(json, "id");
        if (userName is null)
        {
            return Fail(502, "Your identity provider did not say who you are", "The user information could not be read.", "Try again; if it persists, contact your enterprise administrator.", correlation, login.TenantId, "userinfo failed", clear: true);
        }

        var user = await kit.UserAsync(login.TenantId, userName, cancellationToken).ConfigureAwait(false);
        var instance = user?.InstanceId is { } instanceId ? await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false) : null;
        if (user is null || instance is null || instance.IsReleased || string.IsNullOrEmpty(instance.FrontEndUrl))
        {
            return Fail(403, "You are not authorised for this application", $"The user {Cut(userName)} is not among the users your enterprise authorised for it.", "Ask your enterprise administrator to authorise you for the application in the KooGallery buyer console.", correlation, login.TenantId, "user not authorised", clear: true);
        }

        var ticket = Ticket(userName, Text(info.Json!.Value, "name"), tenant, instance.InstanceId);
        logger.LogInformation("Sign-in of user {UserName} of tenant {TenantId} to instance {InstanceId} (correlation {CorrelationId}).", userName, tenant.TenantId, instance.InstanceId, correlation);
        var separator = instance.FrontEndUrl.Contains('?', StringComparison.Ordinal) ? '&' : '?';
        return new LoginStep($"{instance.FrontEndUrl}{separator}ticket={Uri.EscapeDataString(ticket)}", ClearCookie(), null);
    }

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
