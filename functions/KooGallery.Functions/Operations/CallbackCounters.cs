using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Metering;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Operations;

/// <summary>
/// Callbacks per hour by activity and result code, for the console. Counting costs a callback nothing
/// (an in-memory increment); every minute, and when the worker stops, each worker writes its own row per
/// hour (<c>callbacks|yyyyMMddHH</c> / worker id) in table <c>Storage__OperationsTable</c> — one writer per
/// row, so no ETag contention however many callbacks arrive. A worker that crashes loses at most its last
/// minute of counts; the authoritative per-call record stays the log line each callback writes.
/// </summary>
public sealed class CallbackCounters(TableServiceClient tables, IOptions<StorageOptions> names, TimeProvider time) : Storage.PerWorkerCounts(tables, names)
{
    public const string PartitionPrefix = "callbacks|";

    /// <summary>More distinct activity/code pairs than KooGallery has are fuzz: they are counted as "other".</summary>
    private const int MaxKeysPerHour = 200;

    protected override string Prefix => PartitionPrefix;

    /// <summary>Hours older than two are forgotten once written.</summary>
    protected override string Keep => UsageRowEntity.HourKey(time.GetUtcNow().AddHours(-2));

    public void Count(string activity, string resultCode)
    {
        var key = $"{Safe(activity)}|{Safe(resultCode)}";
        Add(UsageRowEntity.HourKey(time.GetUtcNow()), key, 1, counts => counts.Count >= MaxKeysPerHour && !counts.ContainsKey(key) ? "other|other" : key);
    }

    /// <summary>Counts per hour (<c>yyyyMMddHH</c>) and "activity|code", summed over workers, for [from, to].</summary>
    public async Task<IReadOnlyDictionary<string, Dictionary<string, long>>> HoursAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var result = new SortedDictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {PartitionPrefix + UsageRowEntity.HourKey(from)} and PartitionKey le {PartitionPrefix + UsageRowEntity.HourKey(to)}");
        await foreach (var row in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            var hour = row.PartitionKey[PartitionPrefix.Length..];
            if (!result.TryGetValue(hour, out var sums))
            {
                result[hour] = sums = new Dictionary<string, long>(StringComparer.Ordinal);
            }

            var counts = Parse(row.GetString("Counts"));
            foreach (var (key, count) in counts)
            {
                sums[key] = sums.GetValueOrDefault(key) + count;
            }
        }

        return result;
    }

    private static string Safe(string value) =>
        value.Length is > 0 and <= 40 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '(' or ')' or ' ' or '-') ? value : "other";
}

/// <summary>Writes the callback counts every minute.</summary>
public sealed class CallbackCountersFlush(CallbackCounters counters, ILogger<CallbackCountersFlush> logger)
{
    [Function("CallbackCountersFlush")]
    public async Task Run([TimerTrigger("30 * * * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        try
        {
            await counters.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            logger.LogWarning("Callback counts could not be written ({Status}); they are kept and written on the next run.", ex.Status);
        }
    }
}
