using System.Text.Json;
using KooGallery.Protocol.Wire;

namespace KooGallery.Protocol.Tests;

/// <summary>The licence-code 2.0 activities (spec §5.11) and the text checks every body gets.</summary>
public class LicenseWireTests
{
    private static JsonElement Body(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public void A_renewal_reads_every_field_and_a_trial_conversion_is_a_scene()
    {
        var parsed = RefreshLicenseCodeRequest.Parse(Body("""{"activity":"refreshLicenseCode","license":"PL123","orderId":"O1","orderLineId":"O1-1","expireTime":"20301231235959","productId":"P2","scene":"TRIAL_TO_FORMAL","testFlag":"1","extra":true}"""));

        Assert.True(parsed.IsValid);
        Assert.Equal(new RefreshLicenseCodeRequest("PL123", "O1", "O1-1", "20301231235959", "P2", "TRIAL_TO_FORMAL", true), parsed.Value);
    }

    [Theory]
    [InlineData("""{"orderId":"O","orderLineId":"L","expireTime":"20301231235959","scene":"RENEWAL"}""", "license is missing")]
    [InlineData("""{"license":"PL1","orderId":"O","orderLineId":"L","expireTime":"20301331235959","scene":"RENEWAL"}""", "expireTime must be")]
    [InlineData("""{"license":"PL1","orderId":"O","orderLineId":"L","expireTime":"20301231235959","scene":"NEW"}""", "scene 'NEW'")]
    public void A_bad_renewal_names_the_field(string json, string expected)
    {
        var parsed = RefreshLicenseCodeRequest.Parse(Body(json));

        Assert.False(parsed.IsValid);
        Assert.Contains(expected, parsed.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("FREEZE", true)]
    [InlineData("UNFREEZE", true)]
    [InlineData("freeze", false)]
    [InlineData("RELEASE", false)]
    public void Only_freeze_and_unfreeze_are_statuses(string status, bool valid) =>
        Assert.Equal(valid, UpdateLicenseCodeStatusRequest.Parse(Body($$"""{"license":"PL1","status":"{{status}}"}""")).IsValid);

    [Fact]
    public void A_release_needs_only_the_licence()
    {
        Assert.Equal(new ReleaseLicenseCodeRequest("PL1", null, null, false), ReleaseLicenseCodeRequest.Parse(Body("""{"license":"PL1"}""")).Value);
        Assert.False(ReleaseLicenseCodeRequest.Parse(Body("""{"license":["PL1"]}""")).IsValid);
    }

    [Theory]
    [InlineData("""{"activity":"releaseLicenseCode","license":"\ud800"}""")]
    [InlineData("""{"activity":"releaseLicenseCode","license":"PL1","x":{"y":["a\udfff"]}}""")]
    public void A_lone_surrogate_anywhere_makes_the_envelope_invalid(string json)
    {
        var parsed = CallbackEnvelope.Parse(System.Text.Encoding.UTF8.GetBytes(json));

        Assert.False(parsed.IsValid);
        Assert.Contains("UTF-8", parsed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_bytes_make_the_envelope_invalid_and_a_licence_is_the_logged_id()
    {
        byte[] bad = [.. "{\"activity\":\"releaseLicenseCode\",\"license\":\"P"u8, 0xFF, .. "\"}"u8];
        Assert.False(CallbackEnvelope.Parse(bad).IsValid);

        var ok = CallbackEnvelope.Parse("""{"activity":"releaseLicenseCode","license":"PL9","orderId":"O9"}"""u8);
        Assert.Equal(("O9", "PL9"), ok.Value!.CorrelationIds());
    }
}
