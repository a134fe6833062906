using System.Text.Json;
using KooGallery.Protocol.Crypto;
using KooGallery.Protocol.Wire;

namespace KooGallery.Protocol.Tests;

/// <summary>The licence-code 2.0 activities (§5.11) and the text checks every body gets.</summary>
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

/// <summary>Joint-operation kit bodies (§5.10) and the clientSecret cipher (§4.5).</summary>
public class KitWireTests
{
    private static JsonElement Body(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public void The_documented_tenant_sync_example_parses_with_integer_flags()
    {
        var parsed = TenantSyncRequest.Parse(Body("""{"instanceId": "huaiweitest123456","orderId": "CS1906666666ABCDE","tenantId": "68cbc86880d92f36422fa0e","tenantCode": "huawei","name": "huaiweitest","domainName": "https://example.tenantaccount.com","flag": 1,"testFlag": 0,"timeStamp": "20220413093539534"}"""));

        Assert.True(parsed.IsValid, parsed.Error);
        Assert.Equal(("huawei", true, false), (parsed.Value.TenantCode, parsed.Value.Add, parsed.Value.IsTest));
    }

    [Fact]
    public void An_auth_sync_reads_one_user_or_a_list_and_a_bad_flag_is_named()
    {
        var one = AuthSyncRequest.Parse(Body("""{"tenantId":"T","userName":"alice","flag":0}"""));
        var list = AuthSyncRequest.Parse(Body("""{"tenantId":"T","flag":1,"userList":[{"userName":"a"},{"userName":"b","flag":0}]}"""));
        var bad = AuthSyncRequest.Parse(Body("""{"tenantId":"T","userName":"alice","flag":3}"""));

        Assert.Equal([("alice", false)], one.Value!.Users.Select(u => (u.UserName, u.Add)));
        Assert.Equal([("a", true), ("b", false)], list.Value!.Users.Select(u => (u.UserName, u.Add)));
        Assert.Contains("flag", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_whole_tree_needs_its_list_and_a_single_department_its_code()
    {
        Assert.Contains("orgList", OrgSyncRequest.Parse(Body("""{"tenantId":"T"}"""), whole: true).Error, StringComparison.Ordinal);
        Assert.Contains("orgCode", OrgSyncRequest.Parse(Body("""{"tenantId":"T","flag":1}"""), whole: false).Error, StringComparison.Ordinal);
        Assert.Equal(2, OrgSyncRequest.Parse(Body("""{"tenantId":"T","orgList":[{"orgCode":"a"},{"orgCode":"b","parentCode":"a"}]}"""), whole: true).Value!.Orgs.Count);
    }

    [Fact]
    public void A_client_secret_decrypts_with_either_oaep_hash_and_nothing_else()
    {
        using var key = System.Security.Cryptography.RSA.Create(3072);
        using var other = System.Security.Cryptography.RSA.Create(3072);

        Assert.Equal("s3cret", ClientSecretCipher.TryDecrypt(key, ClientSecretCipher.Encrypt(key, "s3cret", sha256: true)));
        Assert.Equal("s3cret", ClientSecretCipher.TryDecrypt(key, ClientSecretCipher.Encrypt(key, "s3cret", sha256: false)));
        Assert.Null(ClientSecretCipher.TryDecrypt(key, ClientSecretCipher.Encrypt(other, "s3cret")));
        Assert.Null(ClientSecretCipher.TryDecrypt(key, "%%%"));
        Assert.Null(ClientSecretCipher.TryDecrypt(key, null));
    }
}
