using KooGallery.Functions.Marketplace;

namespace KooGallery.Functions.Instances;

/// <summary>
/// Orders for KooGallery's debug calls (<c>testFlag=1</c>), built from what the callback said instead of
/// asked from KooGallery's order API: KooGallery asks for no business processing on debug calls but a
/// plausible answer (§2.5), and the seller console's debugging and the daily dial tests must not fail
/// because the order API does not know a mock order or is down.
/// </summary>
public static class DebugOrders
{
    /// <summary>The quantity (linear value) of a debug instance whose callback names none: a plausible mock spec.</summary>
    public const decimal MockQuantity = 10;

    public static KooGalleryOrder From(InstanceEntity instance) => Order(instance, instance.OrderId, instance.OrderLineId, ChargingModeOf(instance));

    /// <summary>An upgrade of a debug instance keeps its product: the debug callback names no new spec.</summary>
    public static KooGalleryOrder Upgrade(InstanceEntity instance) =>
        Order(instance, instance.PendingUpgradeOrderId ?? instance.OrderId, instance.PendingUpgradeOrderLineId, instance.ChargingMode ?? ChargingModeOf(instance));

    /// <summary>
    /// The nested newInstance shape names the charging mode; for the flat one, KooGallery's documented mock
    /// order ids (MOCKONDEMAND, MOCKONDEMANDPKG, MOCKONETIMENEW …) say it; anything else is a periodic product.
    /// </summary>
    public static string ChargingModeOf(InstanceEntity instance) =>
        instance.ChargingMode ?? instance.OrderId switch
        {
            var id when id.StartsWith("MOCKONDEMANDPKG", StringComparison.Ordinal) => "ON_DEMAND_PKG",
            var id when id.StartsWith("MOCKONDEMAND", StringComparison.Ordinal) => "ON_DEMAND",
            var id when id.StartsWith("MOCKONETIME", StringComparison.Ordinal) => "ONE_TIME",
            _ => "PERIOD",
        };

    private static KooGalleryOrder Order(InstanceEntity instance, string orderId, string? orderLineId, string chargingMode) => new()
    {
        OrderId = orderId,
        OrderType = "DEBUG",
        CustomerId = instance.CustomerId,
        OrderLines =
        [
            new KooGalleryOrderLine
            {
                OrderLineId = orderLineId ?? orderId + "-000001",
                ChargingMode = chargingMode,
                ExpireTime = instance.ExpiresAt is { } at ? UsageRecord.FormatTime(at) : null,
                ProductInfo = [new KooGalleryProduct { ProductId = instance.ProductId ?? instance.OrderProductId, SkuCode = instance.SkuCode, LinearValue = instance.LinearValue is { } v ? (decimal)v : MockQuantity }],
            },
        ],
    };
}
