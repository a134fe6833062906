using System.Security.Cryptography;
using System.Text;

namespace KooGallery.Protocol.Crypto;

/// <summary>
/// Joint-operation <c>applicationSync.clientSecret</c> (§4.5): Base64 of RSA-OAEP ciphertext made with the
/// merchant's public key (at least 3072 bits). The OAEP hash is not documented, so SHA-256 is tried first,
/// then SHA-1, as the protocol notes recommend (docs/protocol.md §8).
/// </summary>
public static class ClientSecretCipher
{
    /// <summary>The clear secret, or null when the value is not Base64 or neither padding decrypts it.</summary>
    public static string? TryDecrypt(RSA privateKey, string? encrypted)
    {
        if (string.IsNullOrWhiteSpace(encrypted))
        {
            return null;
        }

        byte[] cipher;
        try
        {
            cipher = Convert.FromBase64String(encrypted.Trim());
        }
        catch (FormatException)
        {
            return null;
        }

        foreach (var padding in new[] { RSAEncryptionPadding.OaepSHA256, RSAEncryptionPadding.OaepSHA1 })
        {
            try
            {
                return Encoding.UTF8.GetString(privateKey.Decrypt(cipher, padding));
            }
            catch (CryptographicException)
            {
                // Not this padding (or not our key): try the next.
            }
        }

        return null;
    }

    /// <summary>KooGallery's side, for tests and the simulator: encrypts with the merchant's public key.</summary>
    public static string Encrypt(RSA publicKey, string secret, bool sha256 = true) =>
        Convert.ToBase64String(publicKey.Encrypt(Encoding.UTF8.GetBytes(secret), sha256 ? RSAEncryptionPadding.OaepSHA256 : RSAEncryptionPadding.OaepSHA1));
}
