using System.Collections.Concurrent;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Metering;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Hosting;
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
public sealed class CallbackCounters(TableServiceClient tables, IOptions<StorageOptions> names, TimeProvider time) : IHostedService, IDisposable
{
    public const string PartitionPrefix = "callbacks|";

    /// <summary>More distinct activity/code pairs than KooGallery has are fuzz: they are counted as "other".</summary>
    private const int MaxKeysPerHour = 200;

    private readonly string worker = Guid.NewGuid().ToString("N");
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, long>> hours = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> dirty = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim flushing = new(1, 1);

    private TableClient Table => tables.GetTableClient(names.Value.OperationsTable);

    public void Count(string activity, string resultCode)
    {
        var hour = UsageRowEntity.HourKey(time.GetUtcNow());
        var counts = hours.GetOrAdd(hour, _ => new ConcurrentDictionary<string, long>(StringComparer.Ordinal));
        var key = $"{Safe(activity)}|{Safe(resultCode)}";
        if (counts.Count >= MaxKeysPerHour && !counts.ContainsKey(key))
        {
            key = "other|other";
        }

        counts.AddOrUpdate(key, 1, (_, n) => n + 1);
        dirty[hour] = true;
    }

    /// <summary>Writes this worker's changed hours; forgets hours older than two.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await flushing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var hour in dirty.Keys.ToList())
            {
                dirty.TryRemove(hour, out _);
                if (!hours.TryGetValue(hour, out var counts))
                {
                    continue;
                }

                var row = new TableEntity(PartitionPrefix + hour, worker) { ["Counts"] = JsonSerializer.Serialize(counts.ToDictionary(c => c.Key, c => c.Value)) };
                try
                {
                    await Table.UpsertEntityAsync(row, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    dirty[hour] = true; // written on the next flush
                    throw;
                }
            }

            var oldest = UsageRowEntity.HourKey(time.GetUtcNow().AddHours(-2));
            foreach (var hour in hours.Keys.Where(h => string.CompareOrdinal(h, oldest) < 0 && !dirty.ContainsKey(h)).ToList())
            {
                hours.TryRemove(hour, out _);
            }
        }
        finally
        {
            flushing.Release();
        }
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

            var counts = JsonSerializer.Deserialize<Dictionary<string, long>>(row.GetString("Counts") ?? "{}") ?? [];
            foreach (var (key, count) in counts)
            {
                sums[key] = sums.GetValueOrDefault(key) + count;
            }
        }

        return result;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The worker is stopping (scale-in, deployment): keep what it counted since the last flush.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RequestFailedException or OperationCanceledException or AggregateException)
        {
            // Stopping anyway; at most a minute of counts is lost.
        }
    }

    public void Dispose() => flushing.Dispose();

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
