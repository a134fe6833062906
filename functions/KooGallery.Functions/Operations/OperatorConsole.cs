using KooGallery.Functions.Instances;
using KooGallery.Functions.Licensing;
using KooGallery.Functions.Metering;

namespace KooGallery.Functions.Operations;

/// <summary>
/// What the operator console shows and does: the month's failed orders, instances by state, usage of the
/// last 24 hours, parked batches; finding an order, instance, customer or licence with its timeline; and
/// the re-drives, each recorded with the operator who asked. Nothing here ever returns a credential.
/// </summary>
public sealed class OperatorConsole(
    FailedOrderLedger failedOrders,
    CallbackCounters callbacks,
    InstanceRepository instances,
    InstanceLifecycle lifecycle,
    LicenseRepository licenses,
    UsageStore usage,
    UsageParking parking,
    RejectedUsageRedrive refusedUsage,
    DialTest.DialTestStore dialTests,
    InstanceStateCounts stateCounts,
    TimeProvider time)
{
    private const int MaxFound = 20;

    public async Task<object> OverviewAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var month = failedOrders.MonthAsync(failedOrders.MonthOf(now), cancellationToken);
        var states = stateCounts.ReadAsync(cancellationToken);
        var failed = instances.FindFailedAsync(null, null, cancellationToken);
        var ledger = usage.HoursAsync(now.AddHours(-23), now, cancellationToken);
        var runs = usage.HourRunsAsync(now.AddHours(-23), now, cancellationToken);
        var parked = usage.ParkedAsync(cancellationToken);
        var rejected = usage.RejectedAsync(cancellationToken);
        var calls = callbacks.HoursAsync(now.AddHours(-23), now, cancellationToken);
        var dial = DialTest.DialTestView.ReadAsync(dialTests, now, 1, cancellationToken);
        await Task.WhenAll(month, states, failed, ledger, runs, parked, rejected, calls, dial).ConfigureAwait(false);

        // The last 24 UTC hours, oldest first: the x-axis of both charts.
        var hourKeys = Enumerable.Range(0, 24).Select(i => UsageRowEntity.HourKey(now.AddHours(i - 23))).ToList();
        var callbackHours = hourKeys
            .Select(hour => new
            {
                hour,
                codes = (calls.Result.GetValueOrDefault(hour) ?? [])
                    .GroupBy(c => c.Key[(c.Key.IndexOf('|', StringComparison.Ordinal) + 1)..], StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.Sum(c => c.Value), StringComparer.Ordinal),
            })
            .ToList();
        var byActivity = calls.Result.Values
            .SelectMany(h => h)
            .GroupBy(c => c.Key, StringComparer.Ordinal)
            .Select(g => (Key: g.Key.Split('|'), Count: g.Sum(c => c.Value)))
            .OrderBy(c => c.Key[0], StringComparer.Ordinal).ThenBy(c => c.Key[1], StringComparer.Ordinal)
            .Select(c => new { activity = c.Key[0], code = c.Key[1], count = c.Count })
            .ToList();

        // Per hour, what the push runs recorded (rows sent, refused, left waiting) and whether the hour is still
        // open: at most 24 + 24 entities, however much usage there is.
        var open = ledger.Result.Where(h => h.Open).Select(h => h.RowKey).ToHashSet(StringComparer.Ordinal);
        var runByHour = runs.Result.ToDictionary(r => r.RowKey, StringComparer.Ordinal);
        var usageHours = hourKeys
            .Select(hour =>
            {
                var run = runByHour.GetValueOrDefault(hour);
                return new
                {
                    hour,
                    open = open.Contains(hour),
                    pending = run?.WaitingRows ?? 0,
                    sent = run?.SentRows ?? 0,
                    sentValue = run?.SentValue ?? "0",
                    rejected = run?.RejectedRows ?? 0,
                    lastError = run?.LastError,
                };
            })
            .ToList();
        return new
        {
            generatedAt = now,
            dialTest = dial.Result,
            callbacks = new { byActivity, hours = callbackHours, total = byActivity.Sum(c => c.count) },
            failedOrders = month.Result.View(),
            instances = states.Result.Select(s => new { state = s.Key, production = s.Value.Production, debug = s.Value.Debug }),
            failedInstances = failed.Result.OrderByDescending(i => i.FailedAt).Take(50)
                .Select(i => new { i.InstanceId, i.OrderId, i.FailedWork, i.FailureReason, i.FailedAt, i.IsTest }),
            usage = new
            {
                hours = usageHours,
                pending = usageHours.Sum(h => h.pending),
                sent = usageHours.Sum(h => h.sent),
                rejected = usageHours.Sum(h => h.rejected),
                parked = parked.Result.OrderBy(p => p.ParkedAt).Select(p => new { id = p.RowKey, p.MessageId, p.ParkedAt, p.Reason, p.DequeueCount }),
                refused = rejected.Result.OrderBy(r => r.RejectedAt).Take(100).Select(UsageAdmin.RejectedView),
                refusedCount = rejected.Result.Count,
            },
        };
    }

    /// <summary>Everything known under <paramref name="query"/>: an instance id, order id, customer id or licence code.</summary>
    public async Task<object> FindAsync(string query, CancellationToken cancellationToken)
    {
        var byId = instances.GetAsync(query, cancellationToken);
        var byOrder = instances.FindByOrderAsync(query, cancellationToken);
        var byCustomer = instances.FindByCustomerAsync(query, cancellationToken);
        var licence = licenses.GetAsync(query, cancellationToken);
        await Task.WhenAll(byId, byOrder, byCustomer, licence).ConfigureAwait(false);

        var found = new[] { byId.Result }.OfType<InstanceEntity>().Concat(byOrder.Result).Concat(byCustomer.Result)
            .DistinctBy(i => i.InstanceId)
            .Take(MaxFound)
            .ToList();
        var timelines = await Task.WhenAll(found.Select(i => instances.EventsAsync(i.InstanceId, cancellationToken))).ConfigureAwait(false);
        object? licenceView = null;
        if (licence.Result is { } l)
        {
            var events = await licenses.EventsAsync(l.License, cancellationToken).ConfigureAwait(false);
            licenceView = new
            {
                licence = new { l.License, l.Status, l.IsTest, l.ExpireTime, l.ProductId, l.OrderId, l.LastScene, l.ActivatedAt, l.QueriedAt, l.RefusedReason },
                timeline = Timeline(events),
            };
        }

        return new
        {
            query,
            instances = found.Select((instance, i) => new { instance = InstanceAdmin.View(instance), timeline = Timeline(timelines[i]) }),
            licence = licenceView,
        };
    }

    public Task<RedriveOutcome> RedriveInstanceAsync(string instanceId, OperatorIdentity by, CancellationToken cancellationToken) =>
        lifecycle.RedriveAsync(instanceId, cancellationToken, by.Name);

    /// <summary>Re-drives every Failed instance; the answer says what happened to each.</summary>
    public Task<IReadOnlyList<BulkRedriveResult>> RedriveAllAsync(OperatorIdentity by, CancellationToken cancellationToken) =>
        lifecycle.RedriveFailedAsync(null, null, null, dryRun: false, by.Name, cancellationToken);

    /// <summary>Re-drives refused usage rows (one, or all), recorded with the operator.</summary>
    public Task<RejectedRedriveResult> RedriveRefusedUsageAsync(string? id, OperatorIdentity by, CancellationToken cancellationToken) =>
        refusedUsage.RedriveAsync(null, id, by.Name, cancellationToken);

    public Task<UsageIntakeResult?> RedriveParkedUsageAsync(string id, OperatorIdentity by, CancellationToken cancellationToken) =>
        parking.RedriveAsync(id, cancellationToken, by.Name);

    private static IEnumerable<object> Timeline(IEnumerable<InstanceEventEntity> events) =>
        events.OrderBy(e => e.At).Select(InstanceAdmin.EventView);
}
