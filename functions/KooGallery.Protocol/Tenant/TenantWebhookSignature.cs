using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using KooGallery.Protocol.Crypto;

namespace KooGallery.Protocol.Tenant;

/// <summary>
/// This project's own contract with the merchant's tenant API (not KooGallery's): every webhook carries
/// <code>X-KooGallery-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex(HMAC_SHA256(secret, t + "." + body))&gt;</code>
/// over the exact body bytes. The receiver recomputes it, compares in constant time and rejects a
/// <c>t</c> more than five minutes away from its clock.
/// </summary>
public static partial class TenantWebhookSignature
{
    public const string HeaderName = "X-KooGallery-Signature";
    public const string EventHeader = "X-KooGallery-Event";
    public const string IdempotencyHeader = "Idempotency-Key";
    public static readonly TimeSpan DefaultTolerance = TimeSpan.FromMinutes(5);

    public static string Compute(string secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(unixSeconds.ToString(CultureInfo.InvariantCulture) + ".");
        var data = new byte[prefix.Length + body.Length];
        prefix.CopyTo(data, 0);
        body.CopyTo(data.AsSpan(prefix.Length));
        return HmacHex.LowerHex(HmacHex.HmacSha256(secret, data));
    }

    public static string HeaderValue(string secret, DateTimeOffset now, ReadOnlySpan<byte> body)
    {
        var t = now.ToUnixTimeSeconds();
        return $"t={t.ToString(CultureInfo.InvariantCulture)},v1={Compute(secret, t, body)}";
    }

    public static bool Verify(string secret, string? headerValue, ReadOnlySpan<byte> body, DateTimeOffset now, TimeSpan tolerance)
    {
        var match = headerValue is null ? null : HeaderPattern().Match(headerValue);
        if (match is null || !match.Success || !long.TryParse(match.Groups["t"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var t))
        {
            return false;
        }

        if ((now - DateTimeOffset.FromUnixTimeSeconds(t)).Duration() > tolerance)
        {
            return false;
        }

        return HmacHex.HexEqualsConstantTime(Compute(secret, t, body), match.Groups["v1"].Value);
    }

    [GeneratedRegex(@"^t=(?<t>[0-9]{1,12}),v1=(?<v1>[0-9a-fA-F]{64})\z")]
    private static partial Regex HeaderPattern();
}
