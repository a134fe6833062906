using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Security;

/// <summary>
/// Section <c>Credentials</c>: keys that encrypt the initial tenant passwords the app stores (instance rows
/// and built-in tenants). In Azure each key is a Key Vault secret reached through a Key Vault reference.
/// </summary>
public sealed class CredentialOptions
{
    public const string Section = "Credentials";

    /// <summary>
    /// <c>Credentials__Keys__0</c> encrypts; every key decrypts. Rotation: add the new key as
    /// <c>Credentials__Keys__0</c> and move the old one to <c>__1</c>; values written under the old key stay
    /// readable, new ones use the new key (docs/operations.md).
    /// </summary>
    public List<string> Keys { get; set; } = [];
}

internal sealed class CredentialOptionsValidator : IValidateOptions<CredentialOptions>
{
    public ValidateOptionsResult Validate(string? name, CredentialOptions options)
    {
        if (options.Keys.Count == 0 || options.Keys.Any(k => string.IsNullOrWhiteSpace(k) || k.Length < 32))
        {
            return ValidateOptionsResult.Fail(
                "Credential encryption key missing or short: set Credentials__Keys__0 to a random secret of at least 32 characters " +
                "(e.g. openssl rand -base64 32); it encrypts the initial tenant passwords stored in Table Storage.");
        }

        // An unresolved Key Vault reference is refused for every setting in one place: UnresolvedReferences.
        return ValidateOptionsResult.Success;
    }
}

/// <summary>
/// AES-256-GCM for credentials at rest: <c>kgc1:{keyId}:{base64(nonce | tag | ciphertext)}</c>, bound to the
/// row it belongs to (associated data), so a value copied to another instance does not decrypt. The key id
/// says which configured key wrote a value, so keys can rotate without re-encrypting anything.
/// </summary>
public sealed class CredentialProtector
{
    private const string Prefix = "kgc1:";
    private const int NonceSize = 12;
    private const int TagSize = 16;

    private readonly (string Id, byte[] Key)[] keys;

    public CredentialProtector(IOptions<CredentialOptions> options)
    {
        keys = options.Value.Keys.Select(secret => (KeyId(secret), Derive(secret))).ToArray();
        if (keys.Length == 0)
        {
            throw new InvalidOperationException("No credential encryption key is configured (Credentials__Keys__0).");
        }
    }

    public string Protect(string plaintext, string boundTo)
    {
        var (id, _) = keys[0];
        return $"{Prefix}{id}:{Convert.ToBase64String(Seal(keys[0].Key, Encoding.UTF8.GetBytes(plaintext), boundTo))}";
    }

    /// <summary>The clear text; throws <see cref="CryptographicException"/> when no configured key wrote it or it was altered.</summary>
    public string Unprotect(string protectedValue, string boundTo)
    {
        var parts = protectedValue.Split(':', 3);
        if (parts.Length != 3 || parts[0] + ":" != Prefix)
        {
            throw new CryptographicException("The stored credential is not in the protected format.");
        }

        return Encoding.UTF8.GetString(Open(KeyFor(parts[1]), Convert.FromBase64String(parts[2]), boundTo));
    }

    /// <summary>
    /// Binary form for values kept as bytes (e.g. an answer kept for exact resends, which may carry a password):
    /// the key id (4 bytes), then nonce, tag and ciphertext, bound to <paramref name="boundTo"/>.
    /// </summary>
    public byte[] ProtectBytes(ReadOnlySpan<byte> clear, string boundTo)
    {
        var (id, key) = keys[0];
        var sealedBytes = Seal(key, clear, boundTo);
        var output = new byte[KeyIdSize + sealedBytes.Length];
        Convert.FromHexString(id).CopyTo(output, 0);
        sealedBytes.CopyTo(output, KeyIdSize);
        return output;
    }

    /// <summary>The clear bytes of <see cref="ProtectBytes"/>; throws <see cref="CryptographicException"/> when no configured key wrote them or they were altered.</summary>
    public byte[] UnprotectBytes(byte[] protectedValue, string boundTo)
    {
        if (protectedValue.Length < KeyIdSize)
        {
            throw new CryptographicException("The stored value is truncated.");
        }

        return Open(KeyFor(Convert.ToHexStringLower(protectedValue.AsSpan(0, KeyIdSize))), protectedValue.AsSpan(KeyIdSize).ToArray(), boundTo);
    }

    public static bool IsProtected(string? value) => value?.StartsWith(Prefix, StringComparison.Ordinal) == true;

    private const int KeyIdSize = 4;

    private byte[] KeyFor(string id) =>
        keys.FirstOrDefault(k => k.Id == id).Key
        ?? throw new CryptographicException($"The stored credential was written with key {id}, which is no longer configured under Credentials__Keys__*.");

    private static byte[] Seal(byte[] key, ReadOnlySpan<byte> clear, string boundTo)
    {
        var nonce = RandomNumberGenerator.GetBytes(NonceSize);
        var output = new byte[NonceSize + TagSize + clear.Length];
        using (var aes = new AesGcm(key, TagSize))
        {
            aes.Encrypt(nonce, clear, output.AsSpan(NonceSize + TagSize), output.AsSpan(NonceSize, TagSize), Encoding.UTF8.GetBytes(boundTo));
        }

        nonce.CopyTo(output, 0);
        return output;
    }

    private static byte[] Open(byte[] key, byte[] data, string boundTo)
    {
        if (data.Length < NonceSize + TagSize)
        {
            throw new CryptographicException("The stored credential is truncated.");
        }

        var clear = new byte[data.Length - NonceSize - TagSize];
        using (var aes = new AesGcm(key, TagSize))
        {
            aes.Decrypt(data.AsSpan(0, NonceSize), data.AsSpan(NonceSize + TagSize), data.AsSpan(NonceSize, TagSize), clear, Encoding.UTF8.GetBytes(boundTo));
        }

        return clear;
    }

    private static byte[] Derive(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes("koogallery-credential-key\n" + secret));

    private static string KeyId(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("koogallery-credential-key-id\n" + secret)).AsSpan(0, KeyIdSize));
}
