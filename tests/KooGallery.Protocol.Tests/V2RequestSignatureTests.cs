using System.Text;
using KooGallery.Protocol.Crypto;
using KooGallery.Protocol.Signing;
using static KooGallery.Protocol.Tests.SpecVectors;

namespace KooGallery.Protocol.Tests;

public class V2RequestSignatureTests
{
    private static readonly string[] Keys = [Key];

    [Fact]
    public void Spec_3_5_A_inner_hmac_matches()
    {
        Assert.Equal(V2Inner, HmacHex.LowerHex(HmacHex.HmacSha256(Key, V2Body)));
    }

    [Fact]
    public void Spec_3_5_A_signature_matches()
    {
        Assert.Equal(V2Signature, V2RequestSignature.Compute(Key, V2Nonce, V2Timestamp, Encoding.UTF8.GetBytes(V2Body)));
    }

    [Theory]
    [InlineData(V2Signature)]
    [InlineData("26F2CF782DA9D9EEC6FA5514A9B93B243EC176B24723E5EA8A26B4C5887E8E53")]
    [InlineData("26f2CF782da9d9eec6fa5514a9b93b243ec176b24723e5ea8a26b4c5887e8e53")]
    public void Verifies_the_spec_vector_in_any_hex_case(string signature)
    {
        var match = V2RequestSignature.Verify(Keys, signature, V2Nonce, V2Timestamp, Encoding.UTF8.GetBytes(V2Body));

        Assert.True(match.IsValid);
        Assert.Equal(0, match.KeyIndex);
        Assert.Equal(SignedPayload.RawBody, match.Payload);
    }

    [Fact]
    public void Rejects_a_body_with_one_flipped_byte()
    {
        Assert.False(V2RequestSignature.Verify(Keys, V2Signature, V2Nonce, V2Timestamp, FlipOneByte(V2Body)).IsValid);
    }

    [Fact]
    public void Rejects_a_signature_with_one_flipped_character()
    {
        var tampered = "36" + V2Signature[2..];
        Assert.False(V2RequestSignature.Verify(Keys, tampered, V2Nonce, V2Timestamp, Encoding.UTF8.GetBytes(V2Body)).IsValid);
    }

    [Fact]
    public void Rejects_the_wrong_key()
    {
        Assert.False(V2RequestSignature.Verify(["test-key-0123456788"], V2Signature, V2Nonce, V2Timestamp, Encoding.UTF8.GetBytes(V2Body)).IsValid);
    }

    [Fact]
    public void Key_case_matters()
    {
        Assert.False(V2RequestSignature.Verify([Key.ToUpperInvariant()], V2Signature, V2Nonce, V2Timestamp, Encoding.UTF8.GetBytes(V2Body)).IsValid);
    }

    [Fact]
    public void Nonce_case_matters()
    {
        Assert.False(V2RequestSignature.Verify(Keys, V2Signature, V2Nonce.ToLowerInvariant(), V2Timestamp, Encoding.UTF8.GetBytes(V2Body)).IsValid);
    }

    [Theory]
    [InlineData("1680509558158")]
    [InlineData("1680509558")]
    public void Rejects_another_timestamp(string timestamp)
    {
        Assert.False(V2RequestSignature.Verify(Keys, V2Signature, V2Nonce, timestamp, Encoding.UTF8.GetBytes(V2Body)).IsValid);
    }

    [Fact]
    public void Rejects_a_truncated_body_and_a_truncated_signature()
    {
        var body = Encoding.UTF8.GetBytes(V2Body);
        Assert.False(V2RequestSignature.Verify(Keys, V2Signature, V2Nonce, V2Timestamp, body.AsSpan(0, body.Length - 1)).IsValid);
        Assert.False(V2RequestSignature.Verify(Keys, V2Signature[..63], V2Nonce, V2Timestamp, body).IsValid);
        Assert.False(V2RequestSignature.Verify(Keys, V2Signature[..32], V2Nonce, V2Timestamp, body).IsValid);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    public void Rejects_a_missing_signature(string? signature)
    {
        Assert.False(V2RequestSignature.Verify(Keys, signature, V2Nonce, V2Timestamp, Encoding.UTF8.GetBytes(V2Body)).IsValid);
    }

    [Fact]
    public void Any_configured_key_verifies_and_the_match_names_it()
    {
        var match = V2RequestSignature.Verify(["new-key", Key], V2Signature, V2Nonce, V2Timestamp, Encoding.UTF8.GetBytes(V2Body));

        Assert.True(match.IsValid);
        Assert.Equal(1, match.KeyIndex);
    }

    [Fact]
    public void Falls_back_to_the_canonical_body_when_the_raw_body_differs_in_layout()
    {
        // The same fields, unsorted, spaced out and with a top-level null: KooGallery's signer would have
        // canonicalised first (Huawei's demo), so only the canonical path verifies.
        const string reordered = """{ "testFlag": "1", "status": "FREEZE", "instanceId": "10e758d0-31ad-4c4b-8f1b-81d03469a10e", "activity": "updateInstanceStatus", "extra": null }""";

        var match = V2RequestSignature.Verify(Keys, V2Signature, V2Nonce, V2Timestamp, Encoding.UTF8.GetBytes(reordered));

        Assert.True(match.IsValid);
        Assert.Equal(SignedPayload.CanonicalBody, match.Payload);
    }

    [Fact]
    public void Canonical_fallback_does_not_accept_changed_values()
    {
        const string changed = """{ "testFlag": "1", "status": "UNFREEZE", "instanceId": "10e758d0-31ad-4c4b-8f1b-81d03469a10e", "activity": "updateInstanceStatus" }""";
        Assert.False(V2RequestSignature.Verify(Keys, V2Signature, V2Nonce, V2Timestamp, Encoding.UTF8.GetBytes(changed)).IsValid);
    }

    [Fact]
    public void Raw_body_path_verifies_what_the_canonical_path_cannot_reproduce()
    {
        // System.Text.Json would escape the emoji; Jackson (and KooGallery) send it raw. Raw-first keeps it valid.
        const string body = """{"activity":"queryInstance","instanceId":"abc","memo":"ok 😀","testFlag":"1"}""";
        var signed = V2RequestSignature.Sign(Key, body, DateTimeOffset.FromUnixTimeMilliseconds(1680509558159), V2Nonce);

        var match = V2RequestSignature.Verify(Keys, signed.Signature, signed.Nonce, signed.Timestamp, Encoding.UTF8.GetBytes(body));

        Assert.True(match.IsValid);
        Assert.Equal(SignedPayload.RawBody, match.Payload);
    }

    [Fact]
    public void Signing_side_reproduces_the_spec_vector_and_builds_the_query()
    {
        var signed = V2RequestSignature.Sign(Key, V2Body, DateTimeOffset.FromUnixTimeMilliseconds(1680509558159), V2Nonce);

        Assert.Equal(V2Signature, signed.Signature);
        Assert.Equal(V2Timestamp, signed.Timestamp);
        Assert.Equal($"?signature={V2Signature}&timestamp={V2Timestamp}&nonce={V2Nonce}", signed.ToQueryString());
    }

    [Fact]
    public void Fresh_nonces_are_64_upper_hex_and_differ()
    {
        var a = Nonce.New();
        var b = Nonce.New();

        Assert.Matches("^[0-9A-F]{64}$", a);
        Assert.NotEqual(a, b);
    }
}
