using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>
/// Instances per state for the console, without reading every instance: a base row (counts as of the start of a
/// UTC day) plus the changes since, which each worker keeps in memory as states change (nothing on the callback's
/// path) and writes once a minute into its own row per day (<c>states|yyyyMMdd</c> / worker id: one writer per row,
/// no contention under a storm). The daily retention recounts from the instance rows and starts a new base, so a
/// worker that died with a minute of changes unwritten leaves the figures off by at most that until then.
/// </summary>
public sealed class InstanceStateCounts(TableServiceClient tables, IOptions<StorageOptions> names, TimeProvider time) : IHostedService, IDisposable
{
    public const string DeltaPrefix = "states|";
    public const string BaseRow = "states-base";

    private readonly string worker = Guid.NewGuid().ToString("N");
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, long>> days = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> dirty = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim flushing = new(1, 1);

    private TableClient Table => tables.GetTableClient(names.Value.OperationsTable);

    /// <summary>An instance moved from <paramref name="from"/> (null: created) to <paramref name="to"/> (null: deleted).</summary>
    public void Changed(string? from, string? to, bool isTest)
    {
        if (from == to)
        {
            return;
        }

        var day = Day(time.GetUtcNow());
        var counts = days.GetOrAdd(day, _ => new ConcurrentDictionary<string, long>(StringComparer.Ordinal));
        if (from is not null)
        {
            counts.AddOrUpdate(Key(from, isTest), -1, (_, n) => n - 1);
        }

        if (to is not null)
        {
            counts.AddOrUpdate(Key(to, isTest), 1, (_, n) => n + 1);
        }

        dirty[day] = true;
    }

    /// <summary>Writes this worker's changed days (cumulative for the day, so a retried write is harmless).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await flushing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var day in dirty.Keys.ToList())
            {
                dirty.TryRemove(day, out _);
                if (!days.TryGetValue(day, out var counts))
                {
                    continue;
                }

                try
                {
                    await Table.UpsertEntityAsync(new TableEntity(DeltaPrefix + day, worker) { ["Counts"] = JsonSerializer.Serialize(counts.ToDictionary(c => c.Key, c => c.Value)) }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    dirty[day] = true;
                    throw;
                }
            }

            var yesterday = Day(time.GetUtcNow().AddDays(-1));
            foreach (var day in days.Keys.Where(d => string.CompareOrdinal(d, yesterday) < 0 && !dirty.ContainsKey(d)).ToList())
            {
                days.TryRemove(day, out _);
            }
        }
        finally
        {
            flushing.Release();
        }
    }

    /// <summary>Instances per state (production, debug): the base row and the delta rows of the days since it — a few entities.</summary>
    public async Task<IReadOnlyDictionary<string, (int Production, int Debug)>> ReadAsync(CancellationToken cancellationToken)
    {
        var found = await Table.GetEntityIfExistsAsync<TableEntity>(BaseRow, BaseRow, cancellationToken: cancellationToken).ConfigureAwait(false);
        var sums = found.HasValue ? Parse(found.Value!.GetString("Counts")) : new Dictionary<string, long>(StringComparer.Ordinal);
        var since = found.HasValue ? found.Value!.GetString("FromDay") ?? "00000000" : "00000000";
        var filter = TableClient.CreateQueryFilter($"PartitionKey ge {DeltaPrefix + since} and PartitionKey lt {DeltaPrefix + "~"}");
        await foreach (var row in Table.QueryAsync<TableEntity>(filter, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            foreach (var (key, n) in Parse(row.GetString("Counts")))
            {
                sums[key] = sums.GetValueOrDefault(key) + n;
            }
        }

        var result = new SortedDictionary<string, (int Production, int Debug)>(StringComparer.Ordinal);
        foreach (var (key, n) in sums.Where(s => s.Value != 0))
        {
            var (state, debug) = (key[..key.LastIndexOf('|')], key.EndsWith("|debug", StringComparison.Ordinal));
            var (production, test) = result.GetValueOrDefault(state);
            result[state] = debug ? (production, test + (int)n) : (production + (int)n, test);
        }

        return result;
    }

    /// <summary>
    /// The daily recount: the true counts from the instance rows become the base as of today, today's changes written
    /// so far are taken off it (they are read on top), and the rows of earlier days go.
    /// </summary>
    public async Task RecountAsync(IReadOnlyDictionary<string, (int Production, int Debug)> counted, CancellationToken cancellationToken)
    {
        await FlushAsync(cancellationToken).ConfigureAwait(false);
        var today = Day(time.GetUtcNow());
        var baseCounts = counted.SelectMany(c => new[] { (Key(c.Key, false), (long)c.Value.Production), (Key(c.Key, true), (long)c.Value.Debug) })
            .ToDictionary(c => c.Item1, c => c.Item2, StringComparer.Ordinal);
        var rows = await Table.QueryAsync<TableEntity>(TableClient.CreateQueryFilter($"PartitionKey ge {DeltaPrefix} and PartitionKey lt {DeltaPrefix + "~"}"), cancellationToken: cancellationToken)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var row in rows.Where(r => string.CompareOrdinal(r.PartitionKey, DeltaPrefix + today) >= 0))
        {
            foreach (var (key, n) in Parse(row.GetString("Counts")))
            {
                baseCounts[key] = baseCounts.GetValueOrDefault(key) - n;
            }
        }

        await Table.UpsertEntityAsync(new TableEntity(BaseRow, BaseRow) { ["Counts"] = JsonSerializer.Serialize(baseCounts), ["FromDay"] = today, ["At"] = time.GetUtcNow() }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        foreach (var old in rows.Where(r => string.CompareOrdinal(r.PartitionKey, DeltaPrefix + today) < 0))
        {
            await Table.DeleteEntityAsync(old.PartitionKey, old.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The worker is stopping: keep what it counted since the last flush.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RequestFailedException or OperationCanceledException or AggregateException)
        {
            // Stopping anyway; the daily recount corrects what is lost.
        }
    }

    public void Dispose() => flushing.Dispose();

    private static string Day(DateTimeOffset at) => at.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private static string Key(string state, bool isTest) => $"{state}|{(isTest ? "debug" : "production")}";

    private static Dictionary<string, long> Parse(string? json) =>
        JsonSerializer.Deserialize<Dictionary<string, long>>(json ?? "{}") ?? new Dictionary<string, long>(StringComparer.Ordinal);
}

/// <summary>Writes the state changes each worker counted, every minute.</summary>
public sealed class InstanceStateCountsFlush(InstanceStateCounts counts, ILogger<InstanceStateCountsFlush> logger)
{
    [Function("InstanceStateCountsFlush")]
    public async Task Run([TimerTrigger("45 * * * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        try
        {
            await counts.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            logger.LogWarning("Instance state counts could not be written ({Status}); they are kept and written on the next run.", ex.Status);
        }
    }
}
