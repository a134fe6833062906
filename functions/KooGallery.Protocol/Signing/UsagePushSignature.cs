using KooGallery.Protocol.Crypto;

namespace KooGallery.Protocol.Signing;

/// <summary>
/// The extra body signature of the new usage push (§5.9.3), sent beside the APIG signature in the
/// <c>signature</c>, <c>ts</c> and <c>nonce</c> headers:
/// <code>signature = base64(HMAC_SHA256(Key, "ts={ts}&amp;nonce={nonce}&amp;body={body}"))</code>
/// The body must be the exact bytes sent (we send keys sorted at every depth, see <see cref="Json.CanonicalJson.SortDeep"/>).
/// </summary>
public static class UsagePushSignature
{
    public const string SignatureHeader = "signature";
    public const string TimestampHeader = "ts";
    public const string NonceHeader = "nonce";

    public static string StringToSign(string ts, string nonce, string body) => $"ts={ts}&nonce={nonce}&body={body}";

    public static string Compute(string key, string ts, string nonce, string body) =>
        Convert.ToBase64String(HmacHex.HmacSha256(key, StringToSign(ts, nonce, body)));

    public static bool Verify(IReadOnlyList<string> keys, string? signature, string ts, string nonce, string body)
    {
        var valid = false;
        foreach (var key in keys)
        {
            valid |= HmacHex.Base64EqualsConstantTime(Compute(key, ts, nonce, body), signature);
        }

        return valid;
    }
}
