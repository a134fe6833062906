using System.Text;
using KooGallery.Protocol.Crypto;

namespace KooGallery.Protocol.Signing;

/// <summary>
/// The V2 production-interface signature (§3.1): <c>signature</c>, <c>timestamp</c> and
/// <c>nonce</c> URL query parameters over the JSON body.
/// <code>
/// inner     = lowercase(hex(HMAC_SHA256(Key, RequestPayload)))
/// signature = hex(HMAC_SHA256(Key, Key + nonce + timestamp + inner))
/// </code>
/// </summary>
public static class V2RequestSignature
{
    public const string SignatureParameter = "signature";
    public const string TimestampParameter = "timestamp";
    public const string NonceParameter = "nonce";

    /// <summary>Lower-case hex signature of <paramref name="payload"/>.</summary>
    public static string Compute(string key, string nonce, string timestamp, ReadOnlySpan<byte> payload)
    {
        var inner = HmacHex.LowerHex(HmacHex.HmacSha256(key, payload));
        return HmacHex.LowerHex(HmacHex.HmacSha256(key, string.Concat(key, nonce, timestamp, inner)));
    }

    /// <summary>
    /// Verifies a received signature against every configured Key (key rotation: any Key verifies),
    /// over the raw body first and the canonical body second. Hex case is ignored; comparison is constant-time.
    /// </summary>
    public static SignatureMatch Verify(IReadOnlyList<string> keys, string? signature, string nonce, string timestamp, ReadOnlySpan<byte> rawBody) =>
        PayloadSignatureVerifier.Verify(keys, signature, rawBody, (key, payload) => Compute(key, nonce, timestamp, payload));

    /// <summary>
    /// The signing side, as KooGallery does it: signs <paramref name="body"/> for <paramref name="now"/>
    /// with a fresh nonce unless one is given. Used by tests and the simulator.
    /// </summary>
    public static SignedQuery Sign(string key, ReadOnlySpan<byte> body, DateTimeOffset now, string? nonce = null)
    {
        nonce ??= Nonce.New();
        var timestamp = RequestTimestamp.Format(now);
        return new SignedQuery(Compute(key, nonce, timestamp, body), timestamp, nonce);
    }

    public static SignedQuery Sign(string key, string body, DateTimeOffset now, string? nonce = null) =>
        Sign(key, Encoding.UTF8.GetBytes(body), now, nonce);
}

/// <summary>The three query parameters of a signed V2 call.</summary>
public sealed record SignedQuery(string Signature, string Timestamp, string Nonce)
{
    /// <summary><c>?signature=..&amp;timestamp=..&amp;nonce=..</c>, values URL-encoded.</summary>
    public string ToQueryString() =>
        $"?{V2RequestSignature.SignatureParameter}={Uri.EscapeDataString(Signature)}" +
        $"&{V2RequestSignature.TimestampParameter}={Uri.EscapeDataString(Timestamp)}" +
        $"&{V2RequestSignature.NonceParameter}={Uri.EscapeDataString(Nonce)}";
}
