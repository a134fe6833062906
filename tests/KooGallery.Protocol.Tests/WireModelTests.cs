using System.Text;
using System.Text.Json;
using KooGallery.Protocol.Wire;

namespace KooGallery.Protocol.Tests;

public class WireModelTests
{
    private static JsonElement Body(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public void Envelope_reads_activity_and_test_flag_and_ignores_unknown_fields()
    {
        var parsed = CallbackEnvelope.Parse("""{"activity":"queryInstance","instanceId":"a","testFlag":"1","somethingNew":{"x":[1,2]}}"""u8);

        Assert.True(parsed.IsValid);
        Assert.Equal("queryInstance", parsed.Value.Activity);
        Assert.True(parsed.Value.IsTest);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[1,2]", "JSON object")]
    [InlineData("""{"instanceId":"a"}""", "activity is missing")]
    [InlineData("""{"activity":{"a":1}}""", "activity must be a string")]
    [InlineData("""{"activity":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}""", "activity is longer than 32")]
    public void Envelope_names_the_problem(string body, string expected)
    {
        var parsed = CallbackEnvelope.Parse(Encoding.UTF8.GetBytes(body));

        Assert.False(parsed.IsValid);
        Assert.Contains(expected, parsed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Test_flag_may_be_a_number_and_defaults_to_real()
    {
        Assert.True(CallbackEnvelope.Parse("""{"activity":"x","testFlag":1}"""u8).Value!.IsTest);
        Assert.False(CallbackEnvelope.Parse("""{"activity":"x","testFlag":"0"}"""u8).Value!.IsTest);
        Assert.False(CallbackEnvelope.Parse("""{"activity":"x"}"""u8).Value!.IsTest);
    }

    [Fact]
    public void New_instance_flat_shape()
    {
        var parsed = NewInstanceRequest.Parse(Body("""{"activity":"newInstance","businessId":"b-1","orderId":"CS1","orderLineId":"CS1-000001","testFlag":"1"}"""));

        Assert.True(parsed.IsValid);
        Assert.Equal(("CS1", "CS1-000001", "b-1", true), (parsed.Value.OrderId, parsed.Value.OrderLineId, parsed.Value.BusinessId, parsed.Value.IsTest));
        Assert.Null(parsed.Value.OrderHint);
    }

    [Fact]
    public void New_instance_nested_shape_from_the_signature_page()
    {
        const string nested = """{"activity":"newInstance","buyerInfo":{"customerId":"688055390f3049f283fe9f1aa90f1858","customerName":"CBC_marketplace_******_01","userId":"1e86066c22754361933f607df834e4fe","userName":"CBC_marketplace_******_01","mobilePhone":"1865********","email":"********@huawei.com"},"orderInfo":[{"businessId":"8a2c4e6f-405a-4f8d-8e24-f41090522646","orderId":"CS2210101920BWXLK","trialFlag":"0","orderAmount":12.78,"chargingMode":"PERIOD","periodType":"month","periodNumber":5,"provisionType":1,"productInfo":[{"skuCode":"a63ee5c9-4f86-11ed-9f95-fa163e8cb3b2","productId":"OFFI788963615933718528","linearValue":20}],"createTime":"20221024194509","expireTime":"20221224194509","extendParams":[{"name":"emailDomainName","value":"test.xxxx.com"},{"name":"extendParamName","value":"extendParamValue"}]}],"testFlag":"1"}""";

        var parsed = NewInstanceRequest.Parse(Body(nested));

        Assert.True(parsed.IsValid, parsed.Error);
        Assert.Equal("CS2210101920BWXLK", parsed.Value.OrderId);
        Assert.Equal("8a2c4e6f-405a-4f8d-8e24-f41090522646", parsed.Value.BusinessId);
        Assert.Null(parsed.Value.OrderLineId);
        Assert.Equal("OFFI788963615933718528", parsed.Value.ProductId);
        Assert.Equal(new NewInstanceOrderHint("PERIOD", "20221224194509", false, "688055390f3049f283fe9f1aa90f1858"), parsed.Value.OrderHint);
    }

    [Theory]
    [InlineData("""{"orderLineId":"L","businessId":"B"}""", "orderId is missing")]
    [InlineData("""{"orderId":"O","businessId":"B"}""", "orderLineId is missing")]
    [InlineData("""{"orderId":"O","orderLineId":"L","businessId":""}""", "businessId is missing")]
    [InlineData("""{"orderId":"O","orderLineId":"L","businessId":["B"]}""", "businessId must be a string")]
    [InlineData("""{"orderInfo":[]}""", "orderInfo must hold")]
    [InlineData("""{"orderInfo":[{"orderId":"O"}]}""", "orderInfo.businessId is missing")]
    public void New_instance_rejects_missing_fields(string body, string expected)
    {
        var parsed = NewInstanceRequest.Parse(Body(body));

        Assert.False(parsed.IsValid);
        Assert.Contains(expected, parsed.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("orderId")]
    [InlineData("orderLineId")]
    [InlineData("businessId")]
    public void Ids_over_64_characters_are_rejected(string field)
    {
        var fields = new Dictionary<string, string> { ["orderId"] = "O", ["orderLineId"] = "L", ["businessId"] = "B" };
        fields[field] = new string('x', 65);

        var parsed = NewInstanceRequest.Parse(Body(JsonSerializer.Serialize(fields)));

        Assert.False(parsed.IsValid);
        Assert.Equal($"{field} is longer than 64 characters.", parsed.Error);

        fields[field] = new string('x', 64);
        Assert.True(NewInstanceRequest.Parse(Body(JsonSerializer.Serialize(fields))).IsValid);
    }

    [Fact]
    public void Query_instance_splits_trims_and_deduplicates_ids()
    {
        var parsed = QueryInstanceRequest.Parse(Body("""{"activity":"queryInstance","instanceId":"a, b,c,a,","testFlag":"0"}"""));

        Assert.True(parsed.IsValid);
        Assert.Equal(["a", "b", "c"], parsed.Value.InstanceIds);
    }

    [Fact]
    public void Query_instance_accepts_100_ids_and_rejects_101()
    {
        string Ids(int n) => string.Join(',', Enumerable.Range(0, n).Select(i => $"inst-{i:D3}"));

        Assert.True(QueryInstanceRequest.Parse(Body($$"""{"instanceId":"{{Ids(100)}}"}""")).IsValid);
        var tooMany = QueryInstanceRequest.Parse(Body($$"""{"instanceId":"{{Ids(101)}}"}"""));
        Assert.False(tooMany.IsValid);
        Assert.Contains("at most 100", tooMany.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Query_instance_rejects_an_id_over_64_characters()
    {
        Assert.False(QueryInstanceRequest.Parse(Body($$"""{"instanceId":"a,{{new string('x', 65)}}"}""")).IsValid);
        Assert.False(QueryInstanceRequest.Parse(Body("""{"instanceId":" , "}""")).IsValid);
    }

    [Fact]
    public void Refresh_instance_reads_every_scene_and_validates_expire_time()
    {
        foreach (var scene in new[] { "TRIAL_TO_FORMAL", "RENEWAL", "UNSUBSCRIBE_RENEWAL_PERIOD", "RENEWAL_CHANGE" })
        {
            var parsed = RefreshInstanceRequest.Parse(Body($$"""{"activity":"refreshInstance","instanceId":"i","orderId":"O","orderLineId":"L","scene":"{{scene}}","productId":"P","expireTime":"20251231235959"}"""));
            Assert.True(parsed.IsValid, parsed.Error);
            Assert.Equal(scene, parsed.Value.Scene);
        }

        Assert.Contains("scene", RefreshInstanceRequest.Parse(Body("""{"instanceId":"i","orderId":"O","orderLineId":"L","scene":"RENEW","expireTime":"20251231235959"}""")).Error, StringComparison.Ordinal);
        Assert.Contains("expireTime", RefreshInstanceRequest.Parse(Body("""{"instanceId":"i","orderId":"O","orderLineId":"L","scene":"RENEWAL","expireTime":"2025-12-31"}""")).Error, StringComparison.Ordinal);
        Assert.Contains("expireTime is missing", RefreshInstanceRequest.Parse(Body("""{"instanceId":"i","orderId":"O","orderLineId":"L","scene":"RENEWAL"}""")).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Update_status_accepts_only_freeze_and_unfreeze()
    {
        Assert.True(UpdateInstanceStatusRequest.Parse(Body("""{"instanceId":"i","status":"FREEZE"}""")).IsValid);
        Assert.True(UpdateInstanceStatusRequest.Parse(Body("""{"instanceId":"i","status":"UNFREEZE"}""")).IsValid);
        Assert.False(UpdateInstanceStatusRequest.Parse(Body("""{"instanceId":"i","status":"freeze"}""")).IsValid);
        Assert.False(UpdateInstanceStatusRequest.Parse(Body("""{"status":"FREEZE"}""")).IsValid);
    }

    [Fact]
    public void Release_and_upgrade_read_their_ids()
    {
        var release = ReleaseInstanceRequest.Parse(Body("""{"activity":"releaseInstance","instanceId":"10e758d0-31ad-4c4b-8f1b-81d03469a10e","orderId":"CS2211181819B4LVS","orderLineId":"CS2211181819B4LVS-000001","testFlag":"0"}"""));
        Assert.True(release.IsValid);
        Assert.Equal("CS2211181819B4LVS", release.Value.OrderId);
        Assert.True(ReleaseInstanceRequest.Parse(Body("""{"instanceId":"i"}""")).IsValid);

        Assert.True(UpgradeInstanceRequest.Parse(Body("""{"instanceId":"i","orderId":"MOCKMONTYCHANGE","orderLineId":"MOCKMONTYCHANGE-000001"}""")).IsValid);
        Assert.Equal("orderLineId is missing.", UpgradeInstanceRequest.Parse(Body("""{"instanceId":"i","orderId":"O"}""")).Error);
    }

    [Theory]
    [InlineData("""{"instanceId":"i","productInfo":{"productId":"P","skuCode":"S","linearValue":20}}""")]
    [InlineData("""{"instanceId":"i","productInfo":"{\"productId\":\"P\",\"skuCode\":\"S\",\"linearValue\":20}"}""")]
    [InlineData("""{"instanceId":"i","productInfo":[{"productId":"P","skuCode":"S","linearValue":"20"}]}""")]
    public void Change_instance_check_reads_product_info_as_object_string_or_array(string body)
    {
        var parsed = ChangeInstanceCheckRequest.Parse(Body(body));

        Assert.True(parsed.IsValid, parsed.Error);
        Assert.Equal(new ChangeProductInfo("P", "S", "20"), parsed.Value.ProductInfo);
    }

    [Fact]
    public void Change_instance_check_requires_product_info()
    {
        Assert.Equal("productInfo is missing.", ChangeInstanceCheckRequest.Parse(Body("""{"instanceId":"i"}""")).Error);
        Assert.False(ChangeInstanceCheckRequest.Parse(Body("""{"instanceId":"i","productInfo":"nope"}""")).IsValid);
    }

    [Fact]
    public void Correlation_ids_come_from_either_shape()
    {
        Assert.Equal(("O", "I"), CallbackEnvelope.Parse("""{"activity":"x","orderId":"O","instanceId":"I"}"""u8).Value!.CorrelationIds());
        Assert.Equal(("CS2", null), CallbackEnvelope.Parse("""{"activity":"x","orderInfo":[{"orderId":"CS2"}]}"""u8).Value!.CorrelationIds());
    }

    [Fact]
    public void Responses_have_a_fixed_field_order_and_the_spec_bytes()
    {
        var bytes = new NewInstanceResponse(ResultCode.Success, "61e834ba-7b97-4418-b8f7-e5345137278c").ToUtf8Bytes();

        Assert.Equal(SpecVectors.BodySignBody, Encoding.UTF8.GetString(bytes));
        Assert.Equal("""{"resultCode":"000002","resultMsg":"invalid request parameters."}""", Encoding.UTF8.GetString(new KooGalleryResponse(ResultCode.InvalidParameter).ToUtf8Bytes()));
    }

    [Fact]
    public void Query_response_writes_info_and_app_info_and_cuts_long_values()
    {
        var response = new QueryInstanceResponse(ResultCode.Success,
        [
            new InstanceInfo("a", new AppInfo("https://t/é", AdminUrl: "https://admin", UserName: "admin", Password: "p\"w", Memo: "hello")),
            new InstanceInfo("b", null),
        ]);

        Assert.Equal(
            """{"resultCode":"000000","resultMsg":"success.","info":[{"instanceId":"a","appInfo":{"frontEndUrl":"https://t/é","adminUrl":"https://admin","userName":"admin","password":"p\"w","memo":"hello"}},{"instanceId":"b"}]}""",
            Encoding.UTF8.GetString(response.ToUtf8Bytes()));
        Assert.Equal(255, new KooGalleryResponse(ResultCode.InternalError, new string('m', 300)).ResultMsg.Length);
    }

    [Fact]
    public void Result_codes_round_trip()
    {
        Assert.True(ResultCode.TryParse("000004", out var processing));
        Assert.Equal(ResultCode.Processing, processing);
        Assert.False(ResultCode.TryParse("999999", out _));
        Assert.True(ResultCode.Success.IsSuccess);
        Assert.False(ResultCode.InternalError.IsSuccess);
    }

    [Theory]
    [InlineData("1680509558159", 1680509558159L)]
    [InlineData("1680509558", 1680509558000L)]
    public void Timestamps_are_milliseconds_or_seconds_by_digit_count(string value, long expectedMs)
    {
        Assert.True(RequestTimestamp.TryParse(value, out var instant));
        Assert.Equal(expectedMs, instant.ToUnixTimeMilliseconds());
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("168050955815")]
    [InlineData("16805095581590")]
    [InlineData("-680509558159")]
    [InlineData("1680509558.15")]
    [InlineData("abc")]
    public void Malformed_timestamps_are_rejected(string? value)
    {
        Assert.False(RequestTimestamp.TryParse(value, out _));
    }

    [Fact]
    public void Timestamp_window_is_inclusive_either_side()
    {
        var now = DateTimeOffset.FromUnixTimeMilliseconds(1680509558159);
        Assert.True(RequestTimestamp.IsWithin(now.AddSeconds(-60), now, TimeSpan.FromSeconds(60)));
        Assert.True(RequestTimestamp.IsWithin(now.AddSeconds(60), now, TimeSpan.FromSeconds(60)));
        Assert.False(RequestTimestamp.IsWithin(now.AddSeconds(-61), now, TimeSpan.FromSeconds(60)));
        Assert.False(RequestTimestamp.IsWithin(now.AddSeconds(61), now, TimeSpan.FromSeconds(60)));
    }
}
