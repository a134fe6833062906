using System.Security.Cryptography;
using System.Text;

namespace KooGallery.Protocol.Crypto;

/// <summary>The HMAC-SHA256 and hex helpers every KooGallery signature is built from.</summary>
public static class HmacHex
{
    public static byte[] HmacSha256(string key, ReadOnlySpan<byte> data) =>
        HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), data);

    public static byte[] HmacSha256(string key, string data) =>
        HmacSha256(key, Encoding.UTF8.GetBytes(data));

    public static string LowerHex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static string Sha256LowerHex(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    /// <summary>
    /// Compares a hex signature we computed with one we received, ignoring hex case (KooGallery sends
    /// both cases) and in time independent of where they differ, so a forger learns nothing from timing.
    /// </summary>
    public static bool HexEqualsConstantTime(string expectedHex, string? receivedHex)
    {
        if (receivedHex is null)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(expectedHex.ToUpperInvariant());
        var received = Encoding.ASCII.GetBytes(receivedHex.Trim().ToUpperInvariant());
        return CryptographicOperations.FixedTimeEquals(expected, received);
    }

    /// <summary>Constant-time comparison of two Base64 strings (exact, Base64 is case sensitive).</summary>
    public static bool Base64EqualsConstantTime(string expected, string? received)
    {
        if (received is null)
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(received.Trim()));
    }
}
