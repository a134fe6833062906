using System.Text;
using KooGallery.Protocol.Crypto;

namespace KooGallery.Protocol.Signing;

/// <summary>
/// Joint-operation kit interfaces (§3.2): <c>x-sign</c>, <c>x-timestamp</c>, <c>x-nonce</c> headers.
/// Unlike V2 there is no inner HMAC: <c>x-sign = hex(HMAC_SHA256(KitKey, KitKey + nonce + timestamp + RequestPayload))</c>.
/// </summary>
public static class KitSignature
{
    public const string SignHeader = "x-sign";
    public const string TimestampHeader = "x-timestamp";
    public const string NonceHeader = "x-nonce";

    public static string Compute(string key, string nonce, string timestamp, ReadOnlySpan<byte> payload)
    {
        var prefix = Encoding.UTF8.GetBytes(string.Concat(key, nonce, timestamp));
        var canonicalRequest = new byte[prefix.Length + payload.Length];
        prefix.CopyTo(canonicalRequest, 0);
        payload.CopyTo(canonicalRequest.AsSpan(prefix.Length));
        return HmacHex.LowerHex(HmacHex.HmacSha256(key, canonicalRequest));
    }

    public static SignatureMatch Verify(IReadOnlyList<string> keys, string? sign, string nonce, string timestamp, ReadOnlySpan<byte> rawBody) =>
        PayloadSignatureVerifier.Verify(keys, sign, rawBody, (key, payload) => Compute(key, nonce, timestamp, payload));

    /// <summary>Signs a kit call as KooGallery does; the three header values.</summary>
    public static SignedQuery Sign(string key, ReadOnlySpan<byte> body, DateTimeOffset now, string? nonce = null)
    {
        nonce ??= Nonce.New();
        var timestamp = RequestTimestamp.Format(now);
        return new SignedQuery(Compute(key, nonce, timestamp, body), timestamp, nonce);
    }
}
