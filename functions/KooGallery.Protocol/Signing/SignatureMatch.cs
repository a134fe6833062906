namespace KooGallery.Protocol.Signing;

/// <summary>Which bytes a verified request signature was computed over.</summary>
public enum SignedPayload
{
    /// <summary>The body exactly as received (what KooGallery normally signs).</summary>
    RawBody,

    /// <summary>The top-level-sorted re-serialisation of the body (Huawei's demo computation).</summary>
    CanonicalBody,
}

/// <summary>Outcome of verifying a request signature against the configured Keys.</summary>
/// <param name="IsValid">True when one Key produced the received signature.</param>
/// <param name="KeyIndex">Index of the matching Key in the configured list (rotation visibility), -1 if none.</param>
/// <param name="Payload">Which form of the body matched.</param>
public readonly record struct SignatureMatch(bool IsValid, int KeyIndex, SignedPayload Payload)
{
    public static readonly SignatureMatch None = new(false, -1, SignedPayload.RawBody);
}

/// <summary>
/// Verification shared by the V2 query signature and the kit x-sign: every Key over the raw body first,
/// then every Key over the canonical re-serialisation (§3.1: raw first, since Jackson and
/// System.Text.Json disagree on emoji and exotic numbers, which therefore only verify raw).
/// </summary>
internal static class PayloadSignatureVerifier
{
    public static SignatureMatch Verify(
        IReadOnlyList<string> keys,
        string? receivedHex,
        ReadOnlySpan<byte> rawBody,
        Func<string, byte[], string> compute)
    {
        if (string.IsNullOrWhiteSpace(receivedHex) || keys.Count == 0)
        {
            return SignatureMatch.None;
        }

        var raw = rawBody.ToArray();
        var match = FirstMatchingKey(keys, receivedHex, raw, compute);
        if (match >= 0)
        {
            return new SignatureMatch(true, match, SignedPayload.RawBody);
        }

        var canonical = Json.CanonicalJson.SortTopLevel(rawBody);
        if (canonical is null || canonical.AsSpan().SequenceEqual(raw))
        {
            return SignatureMatch.None;
        }

        match = FirstMatchingKey(keys, receivedHex, canonical, compute);
        return match >= 0 ? new SignatureMatch(true, match, SignedPayload.CanonicalBody) : SignatureMatch.None;
    }

    private static int FirstMatchingKey(IReadOnlyList<string> keys, string receivedHex, byte[] payload, Func<string, byte[], string> compute)
    {
        var found = -1;
        for (var i = 0; i < keys.Count; i++)
        {
            // Every key is tried even after a match so the time taken does not reveal which key matched.
            if (Crypto.HmacHex.HexEqualsConstantTime(compute(keys[i], payload), receivedHex) && found < 0)
            {
                found = i;
            }
        }

        return found;
    }
}
