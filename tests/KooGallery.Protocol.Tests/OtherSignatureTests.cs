using System.Text;
using KooGallery.Protocol.Signing;
using static KooGallery.Protocol.Tests.SpecVectors;

namespace KooGallery.Protocol.Tests;

public class KitSignatureTests
{
    [Fact]
    public void Spec_3_5_B_x_sign_matches()
    {
        Assert.Equal(KitSign, KitSignature.Compute(Key, KitNonce, KitTimestamp, Encoding.UTF8.GetBytes(KitBody)));
    }

    [Fact]
    public void Verifies_upper_case_and_rejects_tampering_wrong_key_and_truncation()
    {
        var body = Encoding.UTF8.GetBytes(KitBody);
        Assert.True(KitSignature.Verify([Key], KitSign.ToUpperInvariant(), KitNonce, KitTimestamp, body).IsValid);
        Assert.False(KitSignature.Verify([Key], KitSign, KitNonce, KitTimestamp, FlipOneByte(KitBody)).IsValid);
        Assert.False(KitSignature.Verify(["other-key"], KitSign, KitNonce, KitTimestamp, body).IsValid);
        Assert.False(KitSignature.Verify([Key], KitSign[..60], KitNonce, KitTimestamp, body).IsValid);
        Assert.False(KitSignature.Verify([Key], KitSign, KitNonce, KitTimestamp, body.AsSpan(0, body.Length - 2)).IsValid);
    }

    [Fact]
    public void The_doc_example_body_as_sent_verifies_through_the_canonical_path()
    {
        // The doc's curl example sends the same fields unsorted and spaced; its x-sign is over the sorted form.
        const string asSent = """{"instanceId": "huaiweitest123456","orderId": "CS1906666666ABCDE","tenantId": "68cbc86abc2018ab880d92f36422fa0e","tenantCode": "huawei","name": "huaiweitest","domainName": "https://example.tenantaccount.com","flag": 1,"testFlag": 0,"timeStamp": "20220413093539534"}""";

        var match = KitSignature.Verify([Key], KitSign, KitNonce, KitTimestamp, Encoding.UTF8.GetBytes(asSent));

        Assert.True(match.IsValid);
        Assert.Equal(SignedPayload.CanonicalBody, match.Payload);
    }
}

public class V1AuthTokenTests
{
    [Fact]
    public void Spec_3_5_C_string_to_sign_is_sorted_and_excludes_the_token()
    {
        var parameters = V1Parameters().Reverse().Append(new("authToken", "ignored")).ToList();
        Assert.Equal(V1StringToSign, V1AuthToken.StringToSign(parameters));
    }

    [Fact]
    public void Spec_3_5_C_auth_token_matches()
    {
        Assert.Equal(V1Token, V1AuthToken.Compute(Key, V1Parameters().ToList()));
    }

    [Fact]
    public void Verifies_a_token_whose_plus_signs_became_spaces()
    {
        var parameters = V1Parameters().ToList();
        Assert.True(V1AuthToken.Verify([Key], parameters, V1Token));
        Assert.True(V1AuthToken.Verify(["rotated", Key], parameters, V1Token.Replace('+', ' ')));
    }

    [Fact]
    public void Rejects_wrong_key_changed_parameter_wrong_case_and_truncation()
    {
        var parameters = V1Parameters().ToList();
        Assert.False(V1AuthToken.Verify(["test-key-0123456788"], parameters, V1Token));
        var changed = parameters.Select(p => p.Key == "orderId" ? new KeyValuePair<string, string>(p.Key, "CS1906666666ABCDF") : p).ToList();
        Assert.False(V1AuthToken.Verify([Key], changed, V1Token));
        Assert.False(V1AuthToken.Verify([Key], parameters, V1Token.ToLowerInvariant()));
        Assert.False(V1AuthToken.Verify([Key], parameters, V1Token[..^2]));
        Assert.False(V1AuthToken.Verify([Key], parameters.Where(p => p.Key != "timeStamp").ToList(), V1Token));
    }

    [Fact]
    public void Formats_the_17_digit_utc_time_stamp()
    {
        Assert.Equal("20200727073711903", V1AuthToken.FormatTimeStamp(new DateTimeOffset(2020, 7, 27, 15, 37, 11, 903, TimeSpan.FromHours(8))));
    }
}

public class BodySignTests
{
    [Fact]
    public void Spec_4_1_header_matches()
    {
        Assert.Equal(BodySignHeader, BodySign.HeaderValue(Key, Encoding.UTF8.GetBytes(BodySignBody)));
        Assert.Equal("Body-Sign", BodySign.HeaderName);
    }

    [Fact]
    public void Verifies_the_exact_bytes_only()
    {
        var body = Encoding.UTF8.GetBytes(BodySignBody);
        Assert.True(BodySign.Verify(Key, BodySignHeader, body));
        Assert.False(BodySign.Verify(Key, BodySignHeader, Encoding.UTF8.GetBytes(BodySignBody + "\n")));
        Assert.False(BodySign.Verify(Key, BodySignHeader, FlipOneByte(BodySignBody)));
        Assert.False(BodySign.Verify("other-key", BodySignHeader, body));
        Assert.False(BodySign.Verify(Key, BodySignHeader, body.AsSpan(0, body.Length - 1)));
    }

    [Theory]
    [InlineData("sign_type=HMAC-SHA256, signature=\"pyV8i8q16UcyVk8kCoNay7ImnlQC8L4Q4oMADN0bmDU=\"")]
    [InlineData("sign_type=\"hmac-sha256\", signature=\"pyV8i8q16UcyVk8kCoNay7ImnlQC8L4Q4oMADN0bmDU=\"")]
    [InlineData("sign_type=\"HMAC-SHA256\", signature=\"PYV8I8Q16UCYVK8KCONAY7IMNLQC8L4Q4OMADN0BMDU=\"")]
    [InlineData("sign_type=\"HMAC-SHA256\", signature=\"pyV8i8q16UcyVk8kCoNay7ImnlQC8L4Q4oMADN0bmD\"")]
    [InlineData("")]
    [InlineData(null)]
    public void Rejects_malformed_or_wrong_case_headers(string? header)
    {
        Assert.False(BodySign.Verify(Key, header, Encoding.UTF8.GetBytes(BodySignBody)));
    }
}

public class UsagePushSignatureTests
{
    [Fact]
    public void Spec_5_9_3_signature_matches()
    {
        Assert.Equal(UsageSignature, UsagePushSignature.Compute(Key, UsageTs, UsageNonce, UsageBody));
        Assert.Equal($"ts={UsageTs}&nonce={UsageNonce}&body={UsageBody}", UsagePushSignature.StringToSign(UsageTs, UsageNonce, UsageBody));
    }

    [Fact]
    public void Rejects_tampering_wrong_key_wrong_case_and_truncation()
    {
        Assert.True(UsagePushSignature.Verify([Key], UsageSignature, UsageTs, UsageNonce, UsageBody));
        Assert.False(UsagePushSignature.Verify([Key], UsageSignature, UsageTs, UsageNonce, UsageBody.Replace("\"99\"", "\"98\"", StringComparison.Ordinal)));
        Assert.False(UsagePushSignature.Verify(["other"], UsageSignature, UsageTs, UsageNonce, UsageBody));
        Assert.False(UsagePushSignature.Verify([Key], UsageSignature.ToLowerInvariant(), UsageTs, UsageNonce, UsageBody));
        Assert.False(UsagePushSignature.Verify([Key], UsageSignature, UsageTs, UsageNonce, UsageBody[..^1]));
        Assert.False(UsagePushSignature.Verify([Key], UsageSignature, "1660036200001", UsageNonce, UsageBody));
    }

    [Fact]
    public void Deep_sorted_serialisation_of_an_unsorted_body_reproduces_the_signed_bytes()
    {
        const string unsorted = """{"usage_records":[{"usage_value":"99","record_time":"20220809T091000Z","metering_sn":"a1b2c3d4","instance_id":"7f141bf1-aec8-4859-8323-fb3a8ad50721","end_time":"20220809T090000Z","begin_time":"20220809T080000Z"}]}""";
        using var document = System.Text.Json.JsonDocument.Parse(unsorted);

        var sorted = Encoding.UTF8.GetString(Json.CanonicalJson.SortDeep(document.RootElement));

        Assert.Equal(UsageBody, sorted);
        Assert.Equal(UsageSignature, UsagePushSignature.Compute(Key, UsageTs, UsageNonce, sorted));
    }
}
