using System.Security.Cryptography;

namespace KooGallery.Protocol.Crypto;

/// <summary>
/// Java's <c>SecureRandom.getInstance("SHA1PRNG")</c> seeded once with a byte array, as Huawei's ISV
/// sample uses it through <c>KeyGenerator.init(bits, sha1prng)</c> to turn the merchant Key into an AES
/// key (§4.2). Reproduces the SUN provider's output bit for bit; not a general-purpose RNG.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Security", "CA5350:Do not use weak cryptographic algorithms",
    Justification = "SHA-1 is fixed by the KooGallery V1 protocol (Java SHA1PRNG key derivation); it is not our choice of primitive.")]
public static class Sha1Prng
{
    public static byte[] DeriveBytes(ReadOnlySpan<byte> seed, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        var state = SHA1.HashData(seed);
        var output = new byte[length];
        var written = 0;
        while (written < length)
        {
            var block = SHA1.HashData(state);
            var take = Math.Min(block.Length, length - written);
            block.AsSpan(0, take).CopyTo(output.AsSpan(written));
            written += take;
            UpdateState(state, block);
        }

        return output;
    }

    /// <summary>state = state + block + 1 over little-endian bytes, with Java's signed-byte carry.</summary>
    private static void UpdateState(byte[] state, byte[] block)
    {
        var carry = 1;
        var changed = false;
        for (var i = 0; i < state.Length; i++)
        {
            var sum = (sbyte)state[i] + (sbyte)block[i] + carry;
            var next = (byte)sum;
            changed |= state[i] != next;
            state[i] = next;
            carry = sum >> 8;
        }

        if (!changed)
        {
            state[0]++;
        }
    }
}
