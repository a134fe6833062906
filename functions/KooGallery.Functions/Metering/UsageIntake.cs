using KooGallery.Functions.Instances;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>
/// Takes usage records from the merchant's SaaS: checks each one on its own (a bad record never costs the
/// good ones of its batch) and adds accepted usage to its instance's row for the billing period. Returns
/// only after every accepted record is durably stored; a storage failure throws, so the caller retries.
/// </summary>
public sealed class UsageIntake(
    UsageStore usage,
    InstanceRepository instances,
    IOptionsMonitor<MeteringOptions> options,
    IOptionsMonitor<LifecycleOptions> lifecycle,
    TimeProvider time,
    ILogger<UsageIntake> logger)
{
    private static readonly HashSet<string> PayPerUse = new(StringComparer.Ordinal) { "ON_DEMAND", "ON_DEMAND_PKG" };

    /// <param name="fallbackRecordIds">Ids for records that bring none (the queue uses message id + index, so a retried message is not counted twice).</param>
    public async Task<IReadOnlyList<UsageRecordOutcome>> AcceptAsync(IReadOnlyList<UsageRecordInput> records, Func<int, string>? fallbackRecordIds, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (records.Count > settings.MaxRecordsPerIntake)
        {
            throw new ArgumentOutOfRangeException(nameof(records), records.Count, $"At most {settings.MaxRecordsPerIntake} records per call.");
        }

        var known = new Dictionary<string, InstanceEntity?>(StringComparer.Ordinal);
        var outcomes = new List<UsageRecordOutcome>(records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            var recordId = record.RecordId ?? fallbackRecordIds?.Invoke(i);
            var problem = await CheckAsync(record, known, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
            {
                outcomes.Add(new UsageRecordOutcome(i, record.RecordId, UsageRecordOutcome.Rejected, problem));
                continue;
            }

            var instance = known[record.InstanceId!]!;
            var daily = instance.ProductId is not null && settings.DailyBilledProducts.Contains(instance.ProductId, StringComparer.Ordinal);
            var (start, end) = UsagePeriods.Of(record.BeginTime!.Value, daily, lifecycle.CurrentValue.ParsedExpireTimeOffset);
            if (record.EndTime!.Value > end)
            {
                outcomes.Add(new UsageRecordOutcome(i, record.RecordId, UsageRecordOutcome.Rejected, $"the record spans more than one billing period ({UsagePeriods.Describe(start, daily)}); split it."));
                continue;
            }

            var value = UsageValues.TryParse(record.UsageValue, out var parsed) ? parsed : throw new InvalidOperationException("usageValue was checked above.");
            var added = await usage.AddAsync(record.InstanceId!, start, end, record.PackageInstanceId, value, recordId, cancellationToken).ConfigureAwait(false);
            outcomes.Add(added == AddUsageOutcome.Added
                ? new UsageRecordOutcome(i, record.RecordId, UsageRecordOutcome.Accepted, null)
                : new UsageRecordOutcome(i, record.RecordId, UsageRecordOutcome.Duplicate, "a record with this recordId was accepted before; counted once."));
        }

        var rejected = outcomes.Where(o => o.Status == UsageRecordOutcome.Rejected).ToList();
        logger.LogInformation("Usage intake: {Accepted} accepted, {Duplicate} duplicate, {Rejected} rejected of {Total} records.",
            outcomes.Count(o => o.Status == UsageRecordOutcome.Accepted), outcomes.Count(o => o.Status == UsageRecordOutcome.Duplicate), rejected.Count, records.Count);
        foreach (var r in rejected.Take(20))
        {
            logger.LogWarning("Usage record {Index} (id {RecordId}, instance {InstanceId}) rejected: {Reason}", r.Index, r.RecordId, records[r.Index].InstanceId, r.Error);
        }

        return outcomes;
    }

    private async Task<string?> CheckAsync(UsageRecordInput record, Dictionary<string, InstanceEntity?> known, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(record.InstanceId) || record.InstanceId.Length > 64)
        {
            return "instanceId is missing or longer than 64 characters.";
        }

        if (record.RecordId is { Length: > 128 } || record.PackageInstanceId is { Length: > 64 })
        {
            return "recordId (at most 128) or packageInstanceId (at most 64) is too long.";
        }

        if (!UsageValues.TryParse(record.UsageValue, out _))
        {
            return "usageValue must be a number more than 0 and below 100000000 with at most 4 decimals.";
        }

        if (record.BeginTime is not { } begin || record.EndTime is not { } end)
        {
            return "beginTime and endTime are required (ISO 8601 with a time zone).";
        }

        if (end <= begin)
        {
            return "endTime must be after beginTime.";
        }

        if (begin > time.GetUtcNow().AddMinutes(5))
        {
            return "beginTime is in the future.";
        }

        if (!known.TryGetValue(record.InstanceId, out var instance))
        {
            instance = await instances.GetAsync(record.InstanceId, cancellationToken).ConfigureAwait(false);
            known[record.InstanceId] = instance;
        }

        if (instance is null)
        {
            return $"unknown instance {record.InstanceId}.";
        }

        if (instance.CurrentState is InstanceState.Releasing or InstanceState.Released)
        {
            return $"instance {record.InstanceId} is released.";
        }

        if (instance.ChargingMode is null)
        {
            return $"instance {record.InstanceId} is not provisioned yet, so its charging mode is unknown; send the record again once it is.";
        }

        return PayPerUse.Contains(instance.ChargingMode)
            ? null
            : $"instance {record.InstanceId} is not pay-per-use (charging mode {instance.ChargingMode}).";
    }
}
