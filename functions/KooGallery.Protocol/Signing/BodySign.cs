using System.Text.RegularExpressions;
using KooGallery.Protocol.Crypto;

namespace KooGallery.Protocol.Signing;

/// <summary>
/// The <c>Body-Sign</c> response header (§4.1): mandatory in V1, sent on every V2 answer too
/// (§9 Q4, harmless if ignored). Computed over the exact response bytes sent.
/// <code>Body-Sign: sign_type="HMAC-SHA256", signature="base64(HMAC_SHA256(Key, body))"</code>
/// </summary>
public static partial class BodySign
{
    /// <summary>Case matters: KooGallery's debug tool rejects <c>Body-sign</c>.</summary>
    public const string HeaderName = "Body-Sign";

    public static string Signature(string key, ReadOnlySpan<byte> body) =>
        Convert.ToBase64String(HmacHex.HmacSha256(key, body));

    public static string HeaderValue(string key, ReadOnlySpan<byte> body) =>
        $"sign_type=\"HMAC-SHA256\", signature=\"{Signature(key, body)}\"";

    /// <summary>Parses a header value strictly (quoted values, exact sign type) and checks it against <paramref name="body"/>.</summary>
    public static bool Verify(string key, string? headerValue, ReadOnlySpan<byte> body)
    {
        if (headerValue is null)
        {
            return false;
        }

        var match = HeaderPattern().Match(headerValue);
        return match.Success && HmacHex.Base64EqualsConstantTime(Signature(key, body), match.Groups["signature"].Value);
    }

    [GeneratedRegex("""^\s*sign_type="HMAC-SHA256",\s*signature="(?<signature>[A-Za-z0-9+/=]+)"\s*\z""", RegexOptions.CultureInvariant)]
    private static partial Regex HeaderPattern();
}
