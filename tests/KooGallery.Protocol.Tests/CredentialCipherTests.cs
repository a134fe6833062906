using System.Text;
using KooGallery.Protocol.Crypto;

namespace KooGallery.Protocol.Tests;

public class CredentialCipherTests
{
    public static TheoryData<string, CredentialKeySize, string, string, string, string> Spec_4_2_vectors => new()
    {
        { "test-key-0123456789", CredentialKeySize.Aes128, "ce07352ff0f2c828f8b0ee494fae8494", "AbCdEfGh12345678", "15905222222", "AbCdEfGh12345678mUNNj5XFuxEVxTjgj2RlTg==" },
        { "test-key-0123456789", CredentialKeySize.Aes256, "ce07352ff0f2c828f8b0ee494fae84941c52ad6550493c94c466843f5f1f3e9b", "AbCdEfGh12345678", "15905222222", "AbCdEfGh12345678IETNDdkGqdYsnwoC+Dm4qw==" },
        { "827d93f9-2e75-4842-a142-8813f31aaef9", CredentialKeySize.Aes128, "a25564b7fa3bba3fa064b23882ba19a3", "t00349j083UC8Og7", "fdtest", "t00349j083UC8Og7YI/s3pHWwoivVo1xGwU5+w==" },
        { "827d93f9-2e75-4842-a142-8813f31aaef9", CredentialKeySize.Aes256, "a25564b7fa3bba3fa064b23882ba19a393dbd0c8ffc2ca5abe312f961a5ec0f7", "t00349j083UC8Og7", "fdtest", "t00349j083UC8Og7QRozfB7o+81cfg464xP34Q==" },
    };

    [Theory]
    [MemberData(nameof(Spec_4_2_vectors))]
    public void Derives_the_spec_aes_key(string key, CredentialKeySize size, string aesKeyHex, string iv, string plain, string cipher)
    {
        _ = (iv, plain, cipher);
        Assert.Equal(aesKeyHex, Convert.ToHexStringLower(CredentialCipher.DeriveKey(key, size)));
    }

    [Theory]
    [MemberData(nameof(Spec_4_2_vectors))]
    public void Encrypts_to_the_spec_value(string key, CredentialKeySize size, string aesKeyHex, string iv, string plain, string cipher)
    {
        _ = aesKeyHex;
        Assert.Equal(cipher, CredentialCipher.Encrypt(key, plain, size, iv));
    }

    [Theory]
    [MemberData(nameof(Spec_4_2_vectors))]
    public void Decrypts_the_spec_value(string key, CredentialKeySize size, string aesKeyHex, string iv, string plain, string cipher)
    {
        _ = (aesKeyHex, iv);
        Assert.True(CredentialCipher.TryDecrypt(key, cipher, size, out var decrypted));
        Assert.Equal(plain, decrypted);
    }

    [Fact]
    public void Sha1prng_trace_matches_the_spec()
    {
        // state0 = SHA1(seed); block0 = SHA1(state0); block1 = SHA1(state1) where state1 = state0 + block0 + 1.
        var seed = Encoding.UTF8.GetBytes("test-key-0123456789");
        var block0And1 = Sha1Prng.DeriveBytes(seed, 40);

        Assert.Equal("ce07352ff0f2c828f8b0ee494fae84941c52ad65", Convert.ToHexStringLower(block0And1.AsSpan(0, 20)));
        Assert.Equal("50493c94c466843f5f1f3e9bf1bc17eaabc9b5dd", Convert.ToHexStringLower(block0And1.AsSpan(20, 20)));
#pragma warning disable CA5350 // the trace itself is defined with SHA-1
        Assert.Equal("ea7543b7ff2910fdb427ddc992ee2c5677f86a26", Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(seed)));
        Assert.Equal("ce07352ff0f2c828f8b0ee494fae84941c52ad65", Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(Convert.FromHexString("ea7543b7ff2910fdb427ddc992ee2c5677f86a26"))));
        Assert.Equal("50493c94c466843f5f1f3e9bf1bc17eaabc9b5dd", Convert.ToHexStringLower(System.Security.Cryptography.SHA1.HashData(Convert.FromHexString("b97b78e6ee1ad824acd6ca11e19bafe9924a178b"))));
#pragma warning restore CA5350
    }

    [Fact]
    public void Random_iv_round_trips_for_both_sizes_and_non_ascii_text()
    {
        foreach (var size in new[] { CredentialKeySize.Aes128, CredentialKeySize.Aes256 })
        {
            var encrypted = CredentialCipher.Encrypt("k", "pässwörd-密码", size);
            Assert.Matches("^[A-Za-z0-9]{16}", encrypted);
            Assert.True(CredentialCipher.TryDecrypt("k", encrypted, size, out var plain));
            Assert.Equal("pässwörd-密码", plain);
        }
    }

    [Theory]
    [InlineData("test-key-0123456780")]
    [InlineData("TEST-KEY-0123456789")]
    public void Wrong_key_does_not_decrypt_to_the_plaintext(string wrongKey)
    {
        var ok = CredentialCipher.TryDecrypt(wrongKey, "AbCdEfGh12345678mUNNj5XFuxEVxTjgj2RlTg==", CredentialKeySize.Aes128, out var plain);
        Assert.False(ok && plain == "15905222222");
    }

    [Theory]
    [InlineData("AbCdEfGh12345678mUNNj5XFuxEVxTjgj2RlTg=")]   // truncated Base64
    [InlineData("AbCdEfGh12345678mUNNj5XFuxEVxTjgj2Rl")]      // truncated ciphertext
    [InlineData("AbCdEfGh1234567")]                           // shorter than the IV
    [InlineData("")]
    [InlineData(null)]
    public void Malformed_values_fail_cleanly(string? value)
    {
        Assert.False(CredentialCipher.TryDecrypt("test-key-0123456789", value, CredentialKeySize.Aes128, out _));
    }

    [Fact]
    public void Flipped_iv_character_changes_the_plaintext()
    {
        var ok = CredentialCipher.TryDecrypt("test-key-0123456789", "BbCdEfGh12345678mUNNj5XFuxEVxTjgj2RlTg==", CredentialKeySize.Aes128, out var plain);
        Assert.True(ok); // CBC: a flipped IV byte flips the same plaintext byte, padding stays valid
        Assert.NotEqual("15905222222", plain);
    }

    [Fact]
    public void Either_size_fallback_accepts_only_a_plausible_result()
    {
        static bool IsPhone(string s) => s.All(char.IsAsciiDigit) && s.Length is >= 6 and <= 20;

        Assert.True(CredentialCipher.TryDecryptEither("test-key-0123456789", "AbCdEfGh12345678IETNDdkGqdYsnwoC+Dm4qw==", CredentialKeySize.Aes128, IsPhone, out var phone));
        Assert.Equal("15905222222", phone);
        Assert.False(CredentialCipher.TryDecryptEither("other", "AbCdEfGh12345678IETNDdkGqdYsnwoC+Dm4qw==", CredentialKeySize.Aes128, IsPhone, out _));
    }
}
