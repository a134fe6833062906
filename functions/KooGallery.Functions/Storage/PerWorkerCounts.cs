using System.Collections.Concurrent;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Storage;

/// <summary>
/// Counts a worker keeps in memory per bucket (an hour, a day) and writes, each bucket to its own row
/// (<c>{prefix}{bucket}</c> / worker id) in the operations table: counting costs nothing on a callback's path, and
/// no row has two writers, so a storm makes no ETag contention. A row holds the bucket's totals, so a retried write is
/// harmless; buckets older than <see cref="Keep"/> are forgotten once written. Written every minute by a timer and
/// when the worker stops; a worker that crashes loses at most its last minute.
/// </summary>
public abstract class PerWorkerCounts(TableServiceClient tables, IOptions<StorageOptions> names) : IHostedService, IDisposable
{
    private readonly string worker = Guid.NewGuid().ToString("N");
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, long>> buckets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> dirty = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim flushing = new(1, 1);

    protected TableClient Table => tables.GetTableClient(names.Value.OperationsTable);

    /// <summary>The row partition of a bucket: this prefix and the bucket.</summary>
    protected abstract string Prefix { get; }

    /// <summary>The oldest bucket still kept in memory once written.</summary>
    protected abstract string Keep { get; }

    protected void Add(string bucket, string key, long n, Func<ConcurrentDictionary<string, long>, string>? overflow = null)
    {
        var counts = buckets.GetOrAdd(bucket, _ => new ConcurrentDictionary<string, long>(StringComparer.Ordinal));
        counts.AddOrUpdate(overflow?.Invoke(counts) ?? key, n, (_, total) => total + n);
        dirty[bucket] = true;
    }

    /// <summary>Writes this worker's changed buckets.</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        await flushing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            foreach (var bucket in dirty.Keys.ToList())
            {
                dirty.TryRemove(bucket, out _);
                if (!buckets.TryGetValue(bucket, out var counts))
                {
                    continue;
                }

                try
                {
                    await Table.UpsertEntityAsync(new TableEntity(Prefix + bucket, worker) { ["Counts"] = JsonSerializer.Serialize(counts.ToDictionary(c => c.Key, c => c.Value)) }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    dirty[bucket] = true; // written on the next flush
                    throw;
                }
            }

            var keep = Keep;
            foreach (var bucket in buckets.Keys.Where(b => string.CompareOrdinal(b, keep) < 0 && !dirty.ContainsKey(b)).ToList())
            {
                buckets.TryRemove(bucket, out _);
            }
        }
        finally
        {
            flushing.Release();
        }
    }

    /// <summary>The counts a row holds.</summary>
    protected static Dictionary<string, long> Parse(string? json) =>
        JsonSerializer.Deserialize<Dictionary<string, long>>(json ?? "{}") ?? new Dictionary<string, long>(StringComparer.Ordinal);

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

    public void Dispose()
    {
        flushing.Dispose();
        GC.SuppressFinalize(this);
    }
}
