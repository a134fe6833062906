using System.Security.Cryptography;

namespace KooGallery.Protocol.Signing;

/// <summary>Nonces in the shape KooGallery sends: 64 upper-case hex characters from a CSPRNG.</summary>
public static class Nonce
{
    public static string New() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
}
