using System.Security.Cryptography;
using System.Text;

namespace KooGallery.Protocol.Crypto;

/// <summary>AES key length of the credential cipher; the wire value is V1's <c>encryptType</c>.</summary>
public enum CredentialKeySize
{
    /// <summary><c>encryptType=1</c>.</summary>
    Aes256 = 1,

    /// <summary><c>encryptType=2</c>.</summary>
    Aes128 = 2,
}

/// <summary>
/// V1 credential encryption (§4.2/§4.3): AES-CBC/PKCS#7 with the key derived from the merchant
/// Key by Java SHA1PRNG, a 16-character alphanumeric IV, transmitted as <c>iv + base64(ciphertext)</c>.
/// </summary>
public static class CredentialCipher
{
    private const int IvLength = 16;
    private const string IvAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    public static byte[] DeriveKey(string key, CredentialKeySize size) =>
        Sha1Prng.DeriveBytes(Encoding.UTF8.GetBytes(key), size == CredentialKeySize.Aes256 ? 32 : 16);

    /// <summary>Encrypts with a random IV.</summary>
    public static string Encrypt(string key, string plaintext, CredentialKeySize size) =>
        Encrypt(key, plaintext, size, RandomNumberGenerator.GetString(IvAlphabet, IvLength));

    /// <summary>Encrypts with a given 16-character IV (deterministic; for test vectors).</summary>
    public static string Encrypt(string key, string plaintext, CredentialKeySize size, string iv)
    {
        if (iv.Length != IvLength || !iv.All(char.IsAscii))
        {
            throw new ArgumentException("The IV must be 16 ASCII characters.", nameof(iv));
        }

        using var aes = Aes.Create();
        aes.Key = DeriveKey(key, size);
        var cipher = aes.EncryptCbc(Encoding.UTF8.GetBytes(plaintext), Encoding.ASCII.GetBytes(iv), PaddingMode.PKCS7);
        return iv + Convert.ToBase64String(cipher);
    }

    /// <summary>Decrypts <c>iv + base64</c>; false on any malformed input, wrong key or bad padding.</summary>
    public static bool TryDecrypt(string key, string? value, CredentialKeySize size, out string plaintext)
    {
        plaintext = string.Empty;
        if (value is null || value.Length <= IvLength || !value.AsSpan(0, IvLength).ToString().All(char.IsAscii))
        {
            return false;
        }

        try
        {
            var cipher = Convert.FromBase64String(value[IvLength..]);
            using var aes = Aes.Create();
            aes.Key = DeriveKey(key, size);
            var plain = aes.DecryptCbc(cipher, Encoding.ASCII.GetBytes(value[..IvLength]), PaddingMode.PKCS7);
            plaintext = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(plain);
            return true;
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// KooGallery does not say which key length it uses for <c>mobilePhone</c>/<c>email</c> (§4.3,
    /// §9 Q11): try the preferred size, then the other, and accept only a result that looks like the
    /// field it claims to be (random padding can be valid by chance with the wrong key).
    /// </summary>
    public static bool TryDecryptEither(string key, string? value, CredentialKeySize preferred, Func<string, bool> plausible, out string plaintext)
    {
        var other = preferred == CredentialKeySize.Aes128 ? CredentialKeySize.Aes256 : CredentialKeySize.Aes128;
        foreach (var size in new[] { preferred, other })
        {
            if (TryDecrypt(key, value, size, out plaintext) && plausible(plaintext))
            {
                return true;
            }
        }

        plaintext = string.Empty;
        return false;
    }
}
