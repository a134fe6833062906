using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace KooGallery.Functions.Marketplace;

/// <summary>
/// An order as query order returns it (§5.9.2). KooGallery publishes only part of the structure, so
/// every level keeps the fields it does not model in <c>Extra</c>: nothing received is lost, and the
/// whole order can be stored and re-read.
/// </summary>
public sealed record KooGalleryOrder
{
    public string OrderId { get; init; } = string.Empty;

    /// <summary>e.g. NEW, RENEW, CHANGE, TRIAL_TO_FORMAL, UNSUBSCRIBE (values not fully documented).</summary>
    public string? OrderType { get; init; }

    public string? CreateTime { get; init; }

    public string? CustomerId { get; init; }

    public string? CustomerName { get; init; }

    public string? UserId { get; init; }

    public string? UserName { get; init; }

    [JsonPropertyName("orderLine")]
    public IReadOnlyList<KooGalleryOrderLine> OrderLines { get; init; } = [];

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }

    /// <summary>The line a callback names, or the only line when none is named.</summary>
    public KooGalleryOrderLine? Line(string? orderLineId) =>
        orderLineId is null ? (OrderLines.Count == 1 ? OrderLines[0] : null) : OrderLines.FirstOrDefault(l => l.OrderLineId == orderLineId);
}

public sealed record KooGalleryOrderLine
{
    public string OrderLineId { get; init; } = string.Empty;

    /// <summary><c>ON_DEMAND</c>, <c>ONE_TIME</c>, <c>PERIOD</c> or <c>ON_DEMAND_PKG</c>.</summary>
    public string? ChargingMode { get; init; }

    /// <summary><c>year</c>, <c>month</c>, <c>day</c> … for PERIOD and ON_DEMAND_PKG.</summary>
    public string? PeriodType { get; init; }

    public int? PeriodNumber { get; init; }

    /// <summary>As sent; open APIs use UTC <c>yyyyMMdd'T'HHmmss'Z'</c> (see <see cref="ExpiresAt"/>).</summary>
    public string? ExpireTime { get; init; }

    public bool? TrialFlag { get; init; }

    public IReadOnlyList<KooGalleryProduct> ProductInfo { get; init; } = [];

    public IReadOnlyList<KooGalleryExtendParam> ExtendParams { get; init; } = [];

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }

    public DateTimeOffset? ExpiresAt =>
        ExpireTime is not null && DateTimeOffset.TryParseExact(
            ExpireTime, ["yyyyMMdd'T'HHmmss'Z'", "yyyy-MM-dd'T'HH:mm:ss'Z'"], CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            ? at
            : null;
}

public sealed record KooGalleryProduct
{
    public string? ProductId { get; init; }

    public string? SkuCode { get; init; }

    /// <summary>Quantity-type attribute (e.g. users, bandwidth); a number on the wire.</summary>
    public decimal? LinearValue { get; init; }

    public string? ProductName { get; init; }

    [JsonExtensionData]
    public Dictionary<string, JsonElement>? Extra { get; init; }
}

public sealed record KooGalleryExtendParam(string Name, string? Value);

/// <summary>The envelope of every open-API answer.</summary>
internal sealed record OpenApiAnswer
{
    public string? ResultCode { get; init; }

    public string? ResultMsg { get; init; }

    public KooGalleryOrder? OrderInfo { get; init; }

    [JsonPropertyName("error_code")]
    public string? GatewayErrorCode { get; init; }

    [JsonPropertyName("error_msg")]
    public string? GatewayErrorMsg { get; init; }
}

/// <summary>One record of a usage push (§5.9.3), snake_case on the wire.</summary>
public sealed record UsageRecord(
    [property: JsonPropertyName("instance_id")] string InstanceId,
    [property: JsonPropertyName("record_time")] string RecordTime,
    [property: JsonPropertyName("begin_time")] string BeginTime,
    [property: JsonPropertyName("end_time")] string EndTime,
    [property: JsonPropertyName("usage_value")] string UsageValue,
    [property: JsonPropertyName("metering_sn")] string MeteringSn,
    [property: JsonPropertyName("relate_pkg_instance"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? RelatePackageInstance = null)
{
    public const string TimeFormat = "yyyyMMdd'T'HHmmss'Z'";

    public static string FormatTime(DateTimeOffset at) => at.UtcDateTime.ToString(TimeFormat, CultureInfo.InvariantCulture);
}

/// <summary>KooGallery's answer to a usage push, kept raw for reconciliation.</summary>
public sealed record UsagePushResult(string ResultCode, string? ResultMsg, string RawBody);
