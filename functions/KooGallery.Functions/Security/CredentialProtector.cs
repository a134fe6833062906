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
        var (id, key) = keys[0];
        var nonce = RandomNumberGenerator.GetBytes(NonceSize);
        var clear = Encoding.UTF8.GetBytes(plaintext);
        var output = new byte[NonceSize + TagSize + clear.Length];
        using (var aes = new AesGcm(key, TagSize))
        {
            aes.Encrypt(nonce, clear, output.AsSpan(NonceSize + TagSize), output.AsSpan(NonceSize, TagSize), Encoding.UTF8.GetBytes(boundTo));
        }

        nonce.CopyTo(output, 0);
        return $"{Prefix}{id}:{Convert.ToBase64String(output)}";
    }

    /// <summary>The clear text; throws <see cref="CryptographicException"/> when no configured key wrote it or it was altered.</summary>
    public string Unprotect(string protectedValue, string boundTo)
    {
        var parts = protectedValue.Split(':', 3);
        if (parts.Length != 3 || parts[0] + ":" != Prefix)
        {
            throw new CryptographicException("The stored credential is not in the protected format.");
        }

        var key = keys.FirstOrDefault(k => k.Id == parts[1]).Key
            ?? throw new CryptographicException($"The stored credential was written with key {parts[1]}, which is no longer configured under Credentials__Keys__*.");
        var data = Convert.FromBase64String(parts[2]);
        if (data.Length < NonceSize + TagSize)
        {
            throw new CryptographicException("The stored credential is truncated.");
        }

        var clear = new byte[data.Length - NonceSize - TagSize];
        using (var aes = new AesGcm(key, TagSize))
        {
            aes.Decrypt(data.AsSpan(0, NonceSize), data.AsSpan(NonceSize + TagSize), data.AsSpan(NonceSize, TagSize), clear, Encoding.UTF8.GetBytes(boundTo));
        }

        return Encoding.UTF8.GetString(clear);
    }

    public static bool IsProtected(string? value) => value?.StartsWith(Prefix, StringComparison.Ordinal) == true;

    private static byte[] Derive(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes("koogallery-credential-key\n" + secret));

    private static string KeyId(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("koogallery-credential-key-id\n" + secret)).AsSpan(0, 4));
}
