using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Operations;

/// <summary>Who may use the operator console (section <c>Console</c>).</summary>
public sealed class ConsoleOptions
{
    public const string Section = "Console";

    /// <summary>
    /// True only where App Service Authentication runs in front of the app (the Bicep sets it with the Entra
    /// app registration): the platform then removes any <c>X-MS-CLIENT-PRINCIPAL</c> a caller sends and sets
    /// its own. Anywhere else that header is just text a caller wrote, so it is ignored.
    /// </summary>
    public bool PlatformAuthentication { get; set; }

    /// <summary>The app role a signed-in principal needs.</summary>
    public string OperatorRole { get; set; } = "KooGallery.Operator";

    /// <summary>
    /// Keys sent as <c>X-KooGallery-Operator-Key</c> (scripts, local runs); none by default in Azure, where
    /// operators sign in. At least 24 characters each.
    /// </summary>
    public List<string> OperatorKeys { get; set; } = [];
}

/// <summary>An authenticated operator, named for the event log ("re-driven by …").</summary>
public sealed record OperatorIdentity(string Name);

/// <summary>
/// Decides whether a request to the console's endpoints comes from an operator: a principal the platform
/// signed in with the operator role, or a configured operator key (compared in constant time). Anything else
/// gets no data.
/// </summary>
public sealed class OperatorAccess(IOptionsMonitor<ConsoleOptions> options, IConfiguration configuration, ILogger<OperatorAccess> logger)
{
    public const string KeyHeader = "X-KooGallery-Operator-Key";
    public const string PrincipalHeader = "X-MS-CLIENT-PRINCIPAL";

    /// <summary>
    /// The header the console page sends with every request. A cross-site form or link cannot set a custom
    /// header, so a state-changing request without it is refused.
    /// </summary>
    public const string ConsoleHeader = "X-KooGallery-Console";

    /// <summary>
    /// App Service sets <c>WEBSITE_AUTH_ENABLED=True</c> when App Service Authentication runs in front of the app;
    /// only then has the platform removed any principal header a caller sent.
    /// </summary>
    public const string PlatformAuthSetting = "WEBSITE_AUTH_ENABLED";

    /// <summary>True when the principal header can be believed: the setting says so, and so does the platform.</summary>
    public bool TrustsPlatformPrincipal =>
        options.CurrentValue.PlatformAuthentication && string.Equals(configuration[PlatformAuthSetting], "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// For requests that change state: the operator, or null when the caller is not one or the request may have
    /// been forged by another site (no <see cref="ConsoleHeader"/>, or an <c>Origin</c> / <c>Sec-Fetch-Site</c>
    /// that is not this site). <paramref name="forged"/> says which, so the caller answers 403 rather than 401.
    /// </summary>
    public OperatorIdentity? AuthenticateChange(HttpRequest request, out bool forged)
    {
        var problem = CrossSiteProblem(request);
        forged = problem is not null;
        if (forged)
        {
            logger.LogWarning("Console request {Method} {Path} refused as possibly forged by another site: {Problem}.", request.Method, request.Path, problem);
            return null;
        }

        return Authenticate(request);
    }

    /// <summary>Why a request may come from another site, or null when it comes from the console's own page.</summary>
    internal static string? CrossSiteProblem(HttpRequest request)
    {
        if (request.Headers[ConsoleHeader].FirstOrDefault() is not { Length: > 0 })
        {
            return $"the {ConsoleHeader} header is missing";
        }

        if (request.Headers["Sec-Fetch-Site"].FirstOrDefault() is { Length: > 0 } site && site is not ("same-origin" or "none"))
        {
            return $"Sec-Fetch-Site is {site}";
        }

        if (request.Headers.Origin.FirstOrDefault() is { Length: > 0 } origin
            && (!Uri.TryCreate(origin, UriKind.Absolute, out var from) || from.Scheme is not ("https" or "http")
                || !string.Equals(from.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase)))
        {
            return "the Origin is another site";
        }

        return null;
    }

    public OperatorIdentity? Authenticate(HttpRequest request)
    {
        var settings = options.CurrentValue;
        if (request.Headers[KeyHeader].FirstOrDefault() is { Length: > 0 } presented)
        {
            var given = Encoding.UTF8.GetBytes(presented);
            for (var i = 0; i < settings.OperatorKeys.Count; i++)
            {
                var key = settings.OperatorKeys[i];
                if (key.Length >= 24 && CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(key)))
                {
                    return new OperatorIdentity($"operator key #{i}");
                }
            }

            return null;
        }

        if (TrustsPlatformPrincipal && request.Headers[PrincipalHeader].FirstOrDefault() is { Length: > 0 } principal)
        {
            return FromPrincipal(principal, settings.OperatorRole);
        }

        return null;
    }

    /// <summary>Reads App Service Authentication's principal (base64 JSON with <c>claims</c>); requires the role.</summary>
    internal static OperatorIdentity? FromPrincipal(string encoded, string role)
    {
        try
        {
            using var document = JsonDocument.Parse(Convert.FromBase64String(encoded));
            var root = document.RootElement;
            var roleType = root.TryGetProperty("role_typ", out var rt) ? rt.GetString() : null;
            var nameType = root.TryGetProperty("name_typ", out var nt) ? nt.GetString() : null;
            string? name = null;
            var hasRole = false;
            foreach (var claim in root.GetProperty("claims").EnumerateArray())
            {
                var type = claim.GetProperty("typ").GetString();
                var value = claim.GetProperty("val").GetString();
                if ((type == "roles" || type == roleType) && value == role)
                {
                    hasRole = true;
                }

                if (name is null && (type == nameType || type == "preferred_username" || type == "name"))
                {
                    name = value;
                }
            }

            return hasRole ? new OperatorIdentity(name ?? "a signed-in operator") : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            return null;
        }
    }
}
