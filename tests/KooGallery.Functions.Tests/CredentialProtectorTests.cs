using System.Security.Cryptography;
using KooGallery.Functions.Security;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Tests;

public class CredentialProtectorTests
{
    private const string OldKey = "old-credential-key-0123456789-abcdefghijkl";
    private const string NewKey = "new-credential-key-0123456789-abcdefghijkl";

    private static CredentialProtector With(params string[] keys) => new(Options.Create(new CredentialOptions { Keys = [.. keys] }));

    [Fact]
    public void A_value_round_trips_and_is_not_readable_in_storage()
    {
        var protector = With(NewKey);

        var stored = protector.Protect("S3cret!pass", "kg-1");

        Assert.StartsWith("kgc1:", stored, StringComparison.Ordinal);
        Assert.DoesNotContain("S3cret", stored, StringComparison.Ordinal);
        Assert.NotEqual(stored, protector.Protect("S3cret!pass", "kg-1")); // a fresh nonce every time
        Assert.Equal("S3cret!pass", protector.Unprotect(stored, "kg-1"));
    }

    [Fact]
    public void After_a_rotation_old_values_still_decrypt_and_new_ones_use_the_new_key()
    {
        var before = With(OldKey).Protect("p1", "kg-1");
        var rotated = With(NewKey, OldKey);

        Assert.Equal("p1", rotated.Unprotect(before, "kg-1"));
        var after = rotated.Protect("p2", "kg-1");
        Assert.Equal("p2", With(NewKey).Unprotect(after, "kg-1"));
        var gone = Assert.Throws<CryptographicException>(() => With(NewKey).Unprotect(before, "kg-1"));
        Assert.Contains("no longer configured", gone.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_value_moved_to_another_instance_or_altered_does_not_decrypt()
    {
        var protector = With(NewKey);
        var stored = protector.Protect("p", "kg-1");

        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(stored, "kg-2"));
        var altered = stored[..^4] + (stored[^4] == 'A' ? "B" : "A") + stored[^3..];
        Assert.ThrowsAny<CryptographicException>(() => protector.Unprotect(altered, "kg-1"));
    }
}
