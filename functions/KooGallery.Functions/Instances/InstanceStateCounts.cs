using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using Microsoft.Azure.Functions.Worker;
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
public sealed class InstanceStateCounts(TableServiceClient tables, IOptions<StorageOptions> names, TimeProvider time) : Storage.PerWorkerCounts(tables, names)
{
    public const string DeltaPrefix = "states|";
    public const string BaseRow = "states-base";

    protected override string Prefix => DeltaPrefix;

    /// <summary>Days before yesterday are forgotten once written.</summary>
    protected override string Keep => Day(time.GetUtcNow().AddDays(-1));

    /// <summary>An instance moved from <paramref name="from"/> (null: created) to <paramref name="to"/> (null: deleted).</summary>
    public void Changed(string? from, string? to, bool isTest)
    {
        if (from == to)
        {
            return;
        }

        var day = Day(time.GetUtcNow());
        if (from is not null)
        {
            Add(day, Key(from, isTest), -1);
        }

        if (to is not null)
        {
            Add(day, Key(to, isTest), 1);
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

    private static string Day(DateTimeOffset at) => at.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private static string Key(string state, bool isTest) => $"{state}|{(isTest ? "debug" : "production")}";
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
