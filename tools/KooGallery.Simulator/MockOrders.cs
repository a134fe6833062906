using System.Globalization;
using System.Text.Json.Nodes;

namespace KooGallery.Simulator;

/// <summary>
/// The canned orders KooGallery answers for its debug order ids (§5.9.2), and a plausible monthly
/// order for any other id. Times are UTC <c>yyyyMMdd'T'HHmmss'Z'</c> relative to the emulator's clock.
/// </summary>
public static class MockOrders
{
    public static readonly IReadOnlyList<string> Ids =
    [
        "MOCKPERIODYEARNEW", "MOCKONETIMENEW", "MOCKONDEMAND", "MOCKONDEMANDPKG", "MOCKPERIODDAYTRIAL",
        "MOCKMONTYTRIALTOFORMAL", "MOCKMONTYUNSUBSCRIBE", "MOCKMONTYRENEW", "MOCKMONTYCHANGE",
    ];

    public static JsonObject? Mock(string orderId, DateTimeOffset now) => orderId switch
    {
        "MOCKPERIODYEARNEW" => Order(orderId, "NEW", now, Line(orderId, "PERIOD", "year", 1, now.AddYears(1), trial: false, linear: 10)),
        "MOCKONETIMENEW" => Order(orderId, "NEW", now, Line(orderId, "ONE_TIME", null, null, null, trial: false, linear: 1)),
        "MOCKONDEMAND" => Order(orderId, "NEW", now, Line(orderId, "ON_DEMAND", null, null, null, trial: false, linear: null)),
        "MOCKONDEMANDPKG" => Order(orderId, "NEW", now, Line(orderId, "ON_DEMAND_PKG", "month", 1, now.AddMonths(1), trial: false, linear: 100)),
        "MOCKPERIODDAYTRIAL" => Order(orderId, "NEW", now, Line(orderId, "PERIOD", "day", 7, now.AddDays(7), trial: true, linear: 10)),
        "MOCKMONTYTRIALTOFORMAL" => Order(orderId, "TRIAL_TO_FORMAL", now, Line(orderId, "PERIOD", "month", 1, now.AddMonths(1), trial: false, linear: 10)),
        "MOCKMONTYUNSUBSCRIBE" => Order(orderId, "UNSUBSCRIBE", now, Line(orderId, "PERIOD", "month", 1, now, trial: false, linear: 10)),
        "MOCKMONTYRENEW" => Order(orderId, "RENEW", now, Line(orderId, "PERIOD", "month", 1, now.AddMonths(2), trial: false, linear: 10)),
        "MOCKMONTYCHANGE" => Order(orderId, "CHANGE", now, Line(orderId, "PERIOD", "month", 1, now.AddMonths(1), trial: false, linear: 20)),
        _ => null,
    };

    /// <summary>A monthly order for an id KooGallery's emulator was not told about.</summary>
    public static JsonObject Synthesised(string orderId, string? orderLineId, DateTimeOffset now) =>
        Order(orderId, "NEW", now, Line(orderId, "PERIOD", "month", 1, now.AddMonths(1), trial: false, linear: 10, lineId: orderLineId));

    public static string Time(DateTimeOffset at) => at.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

    private static JsonObject Order(string orderId, string type, DateTimeOffset now, JsonObject line) => new()
    {
        ["orderId"] = orderId,
        ["orderType"] = type,
        ["createTime"] = Time(now.AddMinutes(-5)),
        ["customerId"] = "68cbc86abc2018ab880d92f36422fa0e",
        ["customerName"] = "emulated_customer",
        ["userId"] = "1e86066c22754361933f607df834e4fe",
        ["userName"] = "emulated_user",
        ["orderLine"] = new JsonArray(line),
    };

    private static JsonObject Line(string orderId, string mode, string? periodType, int? periodNumber, DateTimeOffset? expire, bool trial, int? linear, string? lineId = null)
    {
        var product = new JsonObject
        {
            ["productId"] = $"OFFI-{orderId}",
            ["skuCode"] = $"sku-{mode.ToLowerInvariant()}",
            ["productName"] = $"Emulated {mode} product",
        };
        if (linear is not null)
        {
            product["linearValue"] = linear;
        }

        var line = new JsonObject
        {
            ["orderLineId"] = lineId ?? $"{orderId}-000001",
            ["chargingMode"] = mode,
            ["trialFlag"] = trial,
            ["productInfo"] = new JsonArray(product),
            ["extendParams"] = new JsonArray(new JsonObject { ["name"] = "emailDomainName", ["value"] = "example.com" }),
        };
        if (periodType is not null)
        {
            line["periodType"] = periodType;
            line["periodNumber"] = periodNumber;
        }

        if (expire is not null)
        {
            line["expireTime"] = Time(expire.Value);
        }

        return line;
    }
}
