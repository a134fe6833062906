using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
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
public sealed class OperatorAccess(IOptionsMonitor<ConsoleOptions> options)
{
    public const string KeyHeader = "X-KooGallery-Operator-Key";
    public const string PrincipalHeader = "X-MS-CLIENT-PRINCIPAL";

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

        if (settings.PlatformAuthentication && request.Headers[PrincipalHeader].FirstOrDefault() is { Length: > 0 } principal)
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
