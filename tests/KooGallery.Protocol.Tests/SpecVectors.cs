namespace KooGallery.Protocol.Tests;

/// <summary>Values copied from the worked examples of docs/protocol.md (research notes §3.5, §4.1, §4.2, §5.9.3) so every test names its source.</summary>
internal static class SpecVectors
{
    public const string Key = "test-key-0123456789";

    // §3.5 A — V2 basic signature
    public const string V2Timestamp = "1680509558159";
    public const string V2Nonce = "9F26B85CAEB3A8439221BA293E9250BC5EA689225B523C291EA75CC76B469510";
    public const string V2Body = """{"activity":"updateInstanceStatus","instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e","status":"FREEZE","testFlag":"1"}""";
    public const string V2Inner = "bcfb4655f0f4dd04bf9830ea3e9c1ff676eb67addf6f59532ddaa97e00cdb59e";
    public const string V2Signature = "26f2cf782da9d9eec6fa5514a9b93b243ec176b24723e5ea8a26b4c5887e8e53";

    // §3.5 B — kit x-sign
    public const string KitNonce = "50D83FDECAED6CCD8EF597F2A577950527928BA287D04E6036E92B2806FD17DA";
    public const string KitTimestamp = "1680508066618";
    public const string KitBody = """{"domainName":"https://example.tenantaccount.com","flag":1,"instanceId":"huaiweitest123456","name":"huaiweitest","orderId":"CS1906666666ABCDE","tenantCode":"huawei","tenantId":"68cbc86abc2018ab880d92f36422fa0e","testFlag":0,"timeStamp":"20220413093539534"}""";
    public const string KitSign = "addbc5483e034283352a59793647b83fb9df872aadca13b153ac628664a8d5e5";

    // §3.5 C — V1 authToken
    public const string V1StringToSign = "activity=newInstance&businessId=61e834ba-7b97-4418-b8f7-e5345137278c&customerId=68cbc86abc2018ab880d92f36422fa0e&expireTime=20200727153156&orderId=CS1906666666ABCDE&productId=00301-666666-0--0&testFlag=1&timeStamp=20200727073711903";
    public const string V1Token = "kc9uMt57eu1cWdQ8qQxJ8xJuQzrTj/r4EOoweX3kx3I=";

    // §4.1 — Body-Sign
    public const string BodySignBody = """{"resultCode":"000000","resultMsg":"success.","instanceId":"61e834ba-7b97-4418-b8f7-e5345137278c"}""";
    public const string BodySignHeader = "sign_type=\"HMAC-SHA256\", signature=\"pyV8i8q16UcyVk8kCoNay7ImnlQC8L4Q4oMADN0bmDU=\"";

    // §5.9.3 — usage push
    public const string UsageTs = "1660036200000";
    public const string UsageNonce = "3f0c8a1e-5b8d-4f6e-9a7b-2c1d0e9f8a7b";
    public const string UsageBody = """{"usage_records":[{"begin_time":"20220809T080000Z","end_time":"20220809T090000Z","instance_id":"7f141bf1-aec8-4859-8323-fb3a8ad50721","metering_sn":"a1b2c3d4","record_time":"20220809T091000Z","usage_value":"99"}]}""";
    public const string UsageSignature = "5wxpYbNI0RYRHQP8ym2ldrGvNKYT50tgv6+TI518DuU=";

    public static IReadOnlyList<KeyValuePair<string, string>> V1Parameters() =>
        V1StringToSign.Split('&').Select(p => p.Split('=', 2)).Select(p => new KeyValuePair<string, string>(p[0], p[1])).ToList();

    /// <summary>Flips one byte (not the first or last, so JSON framing stays intact) of a UTF-8 string.</summary>
    public static byte[] FlipOneByte(string value, int? at = null)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        var i = at ?? bytes.Length / 2;
        bytes[i] ^= 0x01;
        return bytes;
    }
}
