using KooGallery.Functions.Instances;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>What an intake call did: a result per record, and whether every record was dealt with.</summary>
/// <param name="Complete">False when storage failed part-way: the records marked not-processed were not counted.</param>
public sealed record UsageIntakeResult(IReadOnlyList<UsageRecordOutcome> Outcomes, bool Complete, string? Failure)
{
    public int Count(string status) => Outcomes.Count(o => o.Status == status);
}

/// <summary>
/// Takes usage records from the merchant's SaaS: checks each one on its own (a bad record never costs the
/// good ones of its batch), then adds the accepted usage of each instance, period and package to its row —
/// up to 99 records in one transaction with their record-id markers. A record is counted exactly once:
/// every record has an id (its own, or one derived from its content), and a write is all or nothing, so when
/// storage fails part-way the result says exactly which records were counted.
/// </summary>
public sealed class UsageIntake(
    UsageStore usage,
    InstanceRepository instances,
    IOptionsMonitor<MeteringOptions> options,
    IOptionsMonitor<LifecycleOptions> lifecycle,
    TimeProvider time,
    ILogger<UsageIntake> logger)
{
    /// <summary>How far ahead of this app's clock a record's times may be (the sender's clock may run ahead).</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(1);

    private static readonly HashSet<string> PayPerUse = new(StringComparer.Ordinal) { "ON_DEMAND", "ON_DEMAND_PKG" };

    public async Task<UsageIntakeResult> AcceptAsync(IReadOnlyList<UsageRecordInput> records, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        var outcomes = new UsageRecordOutcome?[records.Count];
        var known = new Dictionary<string, InstanceEntity?>(StringComparer.Ordinal);
        var accepted = new List<(UsageRecordInput Record, InstanceEntity Instance, DateTimeOffset Start, DateTimeOffset End)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        string? failure = null;
        try
        {
            foreach (var record in records)
            {
                var (problem, instance) = await CheckAsync(record, known, settings, cancellationToken).ConfigureAwait(false);
                if (problem is not null)
                {
                    outcomes[record.Index] = new UsageRecordOutcome(record.Index, record.RecordId, UsageRecordOutcome.Rejected, problem);
                    continue;
                }

                var daily = instance!.ProductId is not null && settings.DailyBilledProducts.Contains(instance.ProductId, StringComparer.Ordinal);
                var (start, end) = UsagePeriods.Of(record.BeginTime!.Value, daily, lifecycle.CurrentValue.ParsedExpireTimeOffset);
                if (record.EndTime!.Value > end)
                {
                    outcomes[record.Index] = new UsageRecordOutcome(record.Index, record.RecordId, UsageRecordOutcome.Rejected, $"the record spans more than one billing period ({UsagePeriods.Describe(start, daily)}); split it.");
                    continue;
                }

                if (!seen.Add(record.InstanceId + "\n" + record.EffectiveRecordId))
                {
                    outcomes[record.Index] = Duplicate(record);
                    continue;
                }

                accepted.Add((record, instance, start, end));
            }

            foreach (var group in accepted.GroupBy(a => (a.Record.InstanceId!, a.Start, a.End, a.Record.PackageInstanceId)))
            {
                foreach (var chunk in group.Chunk(UsageStore.MaxRecordsPerWrite))
                {
                    var (instanceId, start, end, package) = group.Key;
                    var debug = chunk[0].Instance.IsTest;
                    var additions = chunk.Select(a => new UsageAddition(a.Record.EffectiveRecordId, UsageValues.TryParse(a.Record.UsageValue, out var v) ? v : 0)).ToList();
                    var duplicates = await usage.AddAsync(instanceId, start, end, package, debug, additions, cancellationToken).ConfigureAwait(false);
                    foreach (var (record, _, _, _) in chunk)
                    {
                        outcomes[record.Index] = duplicates.Contains(record.EffectiveRecordId)
                            ? Duplicate(record)
                            : new UsageRecordOutcome(record.Index, record.RecordId, UsageRecordOutcome.Accepted, null,
                                debug ? "debug instance (testFlag=1): kept and reported, never sent to KooGallery." : null);
                    }
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Every write so far is whole, so the outcomes already set are exactly what is counted.
            failure = $"{ex.GetType().Name}: {ex.Message}";
            logger.LogError(ex, "Usage intake stopped after {Done} of {Total} records: storage failed; the rest are not counted and the caller is told to send them again.", outcomes.Count(o => o is not null), records.Count);
        }

        var result = new UsageIntakeResult(
            outcomes.Select((o, i) => o ?? new UsageRecordOutcome(i, records[i].RecordId, UsageRecordOutcome.NotProcessed, "storage was unavailable before this record was confirmed; send it again (if it was counted after all, the resend answers duplicate).")).ToList(),
            failure is null,
            failure);
        logger.LogInformation("Usage intake: {Accepted} accepted, {Duplicate} duplicate, {Rejected} rejected, {NotProcessed} not processed of {Total} records.",
            result.Count(UsageRecordOutcome.Accepted), result.Count(UsageRecordOutcome.Duplicate), result.Count(UsageRecordOutcome.Rejected), result.Count(UsageRecordOutcome.NotProcessed), records.Count);
        foreach (var r in result.Outcomes.Where(o => o.Status == UsageRecordOutcome.Rejected).Take(20))
        {
            logger.LogWarning("Usage record {Index} (id {RecordId}, instance {InstanceId}) rejected: {Reason}", r.Index, r.RecordId, records[r.Index].InstanceId, r.Error);
        }

        return result;
    }

    private static UsageRecordOutcome Duplicate(UsageRecordInput record) =>
        new(record.Index, record.RecordId, UsageRecordOutcome.Duplicate, "this record was accepted before; counted once.");

    private async Task<(string? Problem, InstanceEntity? Instance)> CheckAsync(UsageRecordInput record, Dictionary<string, InstanceEntity?> known, MeteringOptions settings, CancellationToken cancellationToken)
    {
        if (record.Problem is not null)
        {
            return (record.Problem, null);
        }

        if (string.IsNullOrWhiteSpace(record.InstanceId))
        {
            return ("instanceId is missing.", null);
        }

        if (!UsageValues.TryParse(record.UsageValue, out _))
        {
            return ("usageValue must be a number more than 0 and below 100000000 with at most 4 decimals.", null);
        }

        if (record.BeginTime is not { } begin || record.EndTime is not { } end)
        {
            return ("beginTime and endTime are required (ISO 8601 with a time zone).", null);
        }

        if (end <= begin)
        {
            return ("endTime must be after beginTime.", null);
        }

        var now = time.GetUtcNow();
        if (begin > now + ClockSkew)
        {
            return ("beginTime is in the future.", null);
        }

        if (end > now + ClockSkew)
        {
            return ("endTime is in the future: report usage once it has happened.", null);
        }

        if (begin < now - settings.MaxRecordAge)
        {
            return ($"beginTime is older than Metering__MaxRecordAge ({settings.MaxRecordAge.TotalDays:0.##} days): too late to bill.", null);
        }

        if (!known.TryGetValue(record.InstanceId, out var instance))
        {
            instance = await instances.GetAsync(record.InstanceId, cancellationToken).ConfigureAwait(false);
            known[record.InstanceId] = instance;
        }

        if (instance is null)
        {
            return ($"unknown instance {record.InstanceId}.", null);
        }

        if (instance.CurrentState is InstanceState.Releasing or InstanceState.Released)
        {
            return ($"instance {record.InstanceId} is released.", null);
        }

        if (instance.ChargingMode is null)
        {
            return ($"instance {record.InstanceId} is not provisioned yet, so its charging mode is unknown; send the record again once it is.", null);
        }

        return PayPerUse.Contains(instance.ChargingMode)
            ? (null, instance)
            : ($"instance {record.InstanceId} is not pay-per-use (charging mode {instance.ChargingMode}).", null);
    }
}
