using System.Globalization;
using System.Text.Json;

namespace KooGallery.Protocol.Wire;

/// <summary>Field limits from KooGallery's field tables (§5.1–5.7).</summary>
internal static class Limits
{
    public const int Id = 64;
    public const int Scene = 64;
    public const int Status = 32;
    public const int ExpireTime = 20;
    public const int MaxQueryIds = 100;
}

/// <summary>
/// <c>newInstance</c> (§5.1). The documented body is flat (<c>orderId</c>, <c>orderLineId</c>,
/// <c>businessId</c>); the signature page shows a nested <c>buyerInfo</c>/<c>orderInfo[]</c> shape
/// (§9 Q5). Both are read; the order details are a hint only — the order is always confirmed by query order.
/// </summary>
/// <param name="OrderLineId">Mandatory in the flat shape; the nested example has none.</param>
/// <param name="ProductId">Present in the nested shape (or as an extra flat field); one order can yield one pay-per-use instance per product (§1.3).</param>
public sealed record NewInstanceRequest(
    string OrderId,
    string? OrderLineId,
    string BusinessId,
    string? ProductId,
    bool IsTest,
    NewInstanceOrderHint? OrderHint)
{
    public static WireParse<NewInstanceRequest> Parse(JsonElement body)
    {
        var top = new FieldReader(body);
        var isTest = top.TestFlag();
        if (top.Element("orderId") is not null || top.Element("orderInfo") is null)
        {
            var orderId = top.Required("orderId", Limits.Id);
            var orderLineId = top.Required("orderLineId", Limits.Id);
            var businessId = top.Required("businessId", Limits.Id);
            var productId = top.Optional("productId", Limits.Id);
            return top.Error is null
                ? WireParse<NewInstanceRequest>.Ok(new(orderId, orderLineId, businessId, productId, isTest, null))
                : WireParse<NewInstanceRequest>.Fail(top.Error);
        }

        var orderInfo = top.Element("orderInfo")!.Value;
        var line = orderInfo.ValueKind switch
        {
            JsonValueKind.Array when orderInfo.GetArrayLength() > 0 => orderInfo[0],
            JsonValueKind.Object => orderInfo,
            _ => default,
        };
        if (line.ValueKind != JsonValueKind.Object)
        {
            return WireParse<NewInstanceRequest>.Fail("orderInfo must hold at least one order object.");
        }

        var order = new FieldReader(line);
        var nestedOrderId = order.Required("orderId", Limits.Id);
        var nestedBusinessId = order.Required("businessId", Limits.Id);
        var nestedLineId = order.Optional("orderLineId", Limits.Id);
        var chargingMode = order.Optional("chargingMode", Limits.Id);
        var expireTime = order.Optional("expireTime", Limits.ExpireTime);
        var trial = order.Optional("trialFlag", 2) == "1";
        string? nestedProductId = null;
        if (order.Element("productInfo") is { ValueKind: JsonValueKind.Array } products && products.GetArrayLength() > 0)
        {
            var product = new FieldReader(products[0]);
            nestedProductId = product.Optional("productId", Limits.Id);
            if (product.Error is not null)
            {
                order.Fail("productInfo." + product.Error);
            }
        }

        string? customerId = null;
        if (top.Element("buyerInfo") is { ValueKind: JsonValueKind.Object } buyer)
        {
            var buyerFields = new FieldReader(buyer);
            customerId = buyerFields.Optional("customerId", 100);
            if (buyerFields.Error is not null)
            {
                order.Fail("buyerInfo." + buyerFields.Error);
            }
        }

        if (order.Error is not null)
        {
            return WireParse<NewInstanceRequest>.Fail("orderInfo." + order.Error);
        }

        return WireParse<NewInstanceRequest>.Ok(new(
            nestedOrderId, nestedLineId, nestedBusinessId, nestedProductId, isTest,
            new NewInstanceOrderHint(chargingMode, expireTime, trial, customerId)));
    }
}

/// <summary>Order details carried by the nested <c>newInstance</c> shape.</summary>
public sealed record NewInstanceOrderHint(string? ChargingMode, string? ExpireTime, bool IsTrial, string? CustomerId);

/// <summary><c>queryInstance</c> (§5.2): 1–100 comma-separated ids, each at most 64 characters.</summary>
public sealed record QueryInstanceRequest(IReadOnlyList<string> InstanceIds, bool IsTest)
{
    public static WireParse<QueryInstanceRequest> Parse(JsonElement body)
    {
        var fields = new FieldReader(body);
        var raw = fields.Required("instanceId", Limits.MaxQueryIds * (Limits.Id + 1));
        var isTest = fields.TestFlag();
        if (fields.Error is not null)
        {
            return WireParse<QueryInstanceRequest>.Fail(fields.Error);
        }

        var ids = raw.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count == 0)
        {
            return WireParse<QueryInstanceRequest>.Fail("instanceId is missing.");
        }

        if (ids.Count > Limits.MaxQueryIds)
        {
            return WireParse<QueryInstanceRequest>.Fail($"instanceId lists {ids.Count} ids; at most {Limits.MaxQueryIds} are allowed.");
        }

        var tooLong = ids.FirstOrDefault(id => id.Length > Limits.Id);
        return tooLong is null
            ? WireParse<QueryInstanceRequest>.Ok(new(ids, isTest))
            : WireParse<QueryInstanceRequest>.Fail($"instanceId contains an id longer than {Limits.Id} characters.");
    }
}

/// <summary>The <c>refreshInstance</c> scenes (§5.3, §9 Q13).</summary>
public static class RefreshScenes
{
    public const string TrialToFormal = "TRIAL_TO_FORMAL";
    public const string Renewal = "RENEWAL";
    public const string UnsubscribeRenewalPeriod = "UNSUBSCRIBE_RENEWAL_PERIOD";

    /// <summary>Seen only in third-party code; accepted and treated like <see cref="Renewal"/>.</summary>
    public const string RenewalChange = "RENEWAL_CHANGE";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal)
    {
        TrialToFormal, Renewal, UnsubscribeRenewalPeriod, RenewalChange,
    };
}

/// <summary><c>refreshInstance</c> (§5.3): renewal, trial to formal, renewal cancelled.</summary>
/// <param name="ExpireTime">Raw <c>yyyyMMddHHmmss</c>, kept as received; its time zone is a setting (§9 Q6).</param>
public sealed record RefreshInstanceRequest(
    string InstanceId,
    string OrderId,
    string OrderLineId,
    string Scene,
    string? ProductId,
    string ExpireTime,
    bool IsTest)
{
    public const string ExpireTimeFormat = "yyyyMMddHHmmss";

    public static WireParse<RefreshInstanceRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var instanceId = f.Required("instanceId", Limits.Id);
        var orderId = f.Required("orderId", Limits.Id);
        var orderLineId = f.Required("orderLineId", Limits.Id);
        var scene = f.Required("scene", Limits.Scene);
        var productId = f.Optional("productId", Limits.Id);
        var expireTime = f.Required("expireTime", Limits.ExpireTime);
        var isTest = f.TestFlag();
        if (f.Error is not null)
        {
            return WireParse<RefreshInstanceRequest>.Fail(f.Error);
        }

        if (!RefreshScenes.All.Contains(scene))
        {
            return WireParse<RefreshInstanceRequest>.Fail($"scene '{scene}' is not one of {string.Join(", ", RefreshScenes.All)}.");
        }

        if (!TryParseExpireTime(expireTime, out _))
        {
            return WireParse<RefreshInstanceRequest>.Fail($"expireTime must be {ExpireTimeFormat}.");
        }

        return WireParse<RefreshInstanceRequest>.Ok(new(instanceId, orderId, orderLineId, scene, productId, expireTime, isTest));
    }

    /// <summary>
    /// Reads <c>yyyyMMddHHmmss</c> as a wall-clock time; the caller applies the configured offset. Years outside
    /// 1970–9998 are refused (a parameter error): no real expiry lies there, and at the edges of the calendar an
    /// offset of ±14 hours would not fit in a <see cref="DateTimeOffset"/>.
    /// </summary>
    public static bool TryParseExpireTime(string value, out DateTime wallClock) =>
        DateTime.TryParseExact(value, ExpireTimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out wallClock)
        && wallClock.Year is >= 1970 and <= 9998;
}

/// <summary>The <c>updateInstanceStatus</c> statuses (§5.4).</summary>
public static class InstanceStatusChanges
{
    public const string Freeze = "FREEZE";
    public const string Unfreeze = "UNFREEZE";
}

/// <summary><c>updateInstanceStatus</c> (§5.4).</summary>
public sealed record UpdateInstanceStatusRequest(string InstanceId, string Status, bool IsTest)
{
    public static WireParse<UpdateInstanceStatusRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var instanceId = f.Required("instanceId", Limits.Id);
        var status = f.Required("status", Limits.Status);
        var isTest = f.TestFlag();
        if (f.Error is not null)
        {
            return WireParse<UpdateInstanceStatusRequest>.Fail(f.Error);
        }

        return status is InstanceStatusChanges.Freeze or InstanceStatusChanges.Unfreeze
            ? WireParse<UpdateInstanceStatusRequest>.Ok(new(instanceId, status, isTest))
            : WireParse<UpdateInstanceStatusRequest>.Fail($"status must be {InstanceStatusChanges.Freeze} or {InstanceStatusChanges.Unfreeze}.");
    }
}

/// <summary><c>releaseInstance</c> (§5.5); the order ids are present when an unsubscription caused it.</summary>
public sealed record ReleaseInstanceRequest(string InstanceId, string? OrderId, string? OrderLineId, bool IsTest)
{
    public static WireParse<ReleaseInstanceRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var instanceId = f.Required("instanceId", Limits.Id);
        var orderId = f.Optional("orderId", Limits.Id);
        var orderLineId = f.Optional("orderLineId", Limits.Id);
        var isTest = f.TestFlag();
        return f.Error is null
            ? WireParse<ReleaseInstanceRequest>.Ok(new(instanceId, orderId, orderLineId, isTest))
            : WireParse<ReleaseInstanceRequest>.Fail(f.Error);
    }
}

/// <summary><c>upgradeInstance</c> (§5.6): the new spec is read from the upgrade order.</summary>
public sealed record UpgradeInstanceRequest(string InstanceId, string OrderId, string OrderLineId, bool IsTest)
{
    public static WireParse<UpgradeInstanceRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var instanceId = f.Required("instanceId", Limits.Id);
        var orderId = f.Required("orderId", Limits.Id);
        var orderLineId = f.Required("orderLineId", Limits.Id);
        var isTest = f.TestFlag();
        return f.Error is null
            ? WireParse<UpgradeInstanceRequest>.Ok(new(instanceId, orderId, orderLineId, isTest))
            : WireParse<UpgradeInstanceRequest>.Fail(f.Error);
    }
}

/// <summary>The target product of a renewal-time spec change (structure not published; §9 Q10).</summary>
public sealed record ChangeProductInfo(string? ProductId, string? SkuCode, string? LinearValue);

/// <summary>
/// <c>changeInstanceCheck</c> (§5.7). <c>productInfo</c> is an object, but third-party code
/// shows it arriving as a JSON string holding the object (or a one-element array); all are read.
/// </summary>
public sealed record ChangeInstanceCheckRequest(string InstanceId, ChangeProductInfo ProductInfo, bool IsTest)
{
    public static WireParse<ChangeInstanceCheckRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var instanceId = f.Required("instanceId", Limits.Id);
        var isTest = f.TestFlag();
        var productInfo = f.Element("productInfo");
        if (f.Error is not null)
        {
            return WireParse<ChangeInstanceCheckRequest>.Fail(f.Error);
        }

        if (productInfo is null)
        {
            return WireParse<ChangeInstanceCheckRequest>.Fail("productInfo is missing.");
        }

        var product = productInfo.Value;
        if (product.ValueKind == JsonValueKind.String)
        {
            try
            {
                using var inner = JsonDocument.Parse(WireText.TryGetString(product) ?? string.Empty);
                product = inner.RootElement.Clone();
            }
            catch (JsonException)
            {
                return WireParse<ChangeInstanceCheckRequest>.Fail("productInfo is a string that does not hold JSON.");
            }
        }

        if (product.ValueKind == JsonValueKind.Array && product.GetArrayLength() > 0)
        {
            product = product[0];
        }

        if (product.ValueKind != JsonValueKind.Object)
        {
            return WireParse<ChangeInstanceCheckRequest>.Fail("productInfo must be an object.");
        }

        var p = new FieldReader(product);
        var info = new ChangeProductInfo(p.Optional("productId", Limits.Id), p.Optional("skuCode", Limits.Id), p.Optional("linearValue", Limits.Id));
        return p.Error is null
            ? WireParse<ChangeInstanceCheckRequest>.Ok(new(instanceId, info, isTest))
            : WireParse<ChangeInstanceCheckRequest>.Fail("productInfo." + p.Error);
    }
}
