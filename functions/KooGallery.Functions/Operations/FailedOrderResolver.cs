using KooGallery.Functions.Instances;
using KooGallery.Functions.Licensing;
using KooGallery.Protocol.DialTest;
using KooGallery.Protocol.Wire;

namespace KooGallery.Functions.Operations;

/// <summary>An order a failed callback counts against.</summary>
public sealed record FailedOrderOf(string OrderId, string? InstanceId, bool IsTest);

/// <summary>
/// Which order a failed callback counts against when its body names none (<c>queryInstance</c>,
/// <c>updateInstanceStatus</c>, a release or upgrade without <c>orderId</c>, the licence status callbacks):
/// KooGallery counts the order all the same. One point read per id — of the instance, or of the licence for
/// the licence callbacks — made inside the bounded write after the answer, never before it. The app's own dial test
/// orders (<see cref="DialTestOrders"/>) are no orders of KooGallery's: their failures are the dial test's to report.
/// </summary>
public sealed class FailedOrderResolver(InstanceRepository instances, LicenseRepository licenses)
{
    /// <summary>Ids read at most per failed call (a <c>queryInstance</c> may name up to 100).</summary>
    public const int MaxIds = 10;

    public async Task<IReadOnlyList<FailedOrderOf>> OrdersAsync(string activity, string? orderId, string? ids, bool isTest, CancellationToken cancellationToken) =>
        (await NamedOrdersAsync(activity, orderId, ids, isTest, cancellationToken).ConfigureAwait(false))
            .Where(order => !DialTestOrders.IsDialTestOrder(order.OrderId, order.IsTest))
            .ToList();

    private async Task<IReadOnlyList<FailedOrderOf>> NamedOrdersAsync(string activity, string? orderId, string? ids, bool isTest, CancellationToken cancellationToken)
    {
        if (orderId is { Length: > 0 })
        {
            return [new FailedOrderOf(orderId, ids, isTest)];
        }

        if (string.IsNullOrEmpty(ids))
        {
            return [];
        }

        var licence = activity is Activities.RefreshLicenseCode or Activities.UpdateLicenseCodeStatus or Activities.ReleaseLicenseCode;
        var lookups = ids.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).Take(MaxIds)
            .Select(async id =>
            {
                if (licence)
                {
                    return await licenses.GetAsync(id, cancellationToken).ConfigureAwait(false) is { OrderId: { Length: > 0 } order } l
                        ? new FailedOrderOf(order, id, isTest || l.IsTest)
                        : null;
                }

                return await instances.GetAsync(id, cancellationToken).ConfigureAwait(false) is { OrderId: { Length: > 0 } o } i
                    ? new FailedOrderOf(o, id, isTest || i.IsTest)
                    : null;
            });
        var found = await Task.WhenAll(lookups).ConfigureAwait(false);
        return found.OfType<FailedOrderOf>().DistinctBy(f => f.OrderId).ToList();
    }
}
