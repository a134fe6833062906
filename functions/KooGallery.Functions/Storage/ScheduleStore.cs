using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Storage;

/// <summary>
/// The app's time index (table <c>Storage__ScheduleTable</c>): small rows keyed by the time something is
/// due, so the timers read what is due rather than scanning what exists. One partition per kind of entry,
/// row keys sorting by due time, so "everything due by now" is one range query in one partition and
/// finished entries go in transactions of up to 100.
/// </summary>
public sealed class ScheduleStore(TableServiceClient tables, IOptions<StorageOptions> names)
{
    /// <summary>"Look at instance X at time T": pending work or recorded changes that must not be forgotten.</summary>
    public const string Lifecycle = "lifecycle";

    /// <summary>"Purge instance X's event log lines older than the retention, from time T".</summary>
    public const string EventPurge = "event-purge";

    private const int MaxTransaction = 100;

    private TableClient Table => tables.GetTableClient(names.Value.ScheduleTable);

    /// <summary>The row key: the due time, then the subject escaped like every other id that becomes a key (a licence code may hold / \ # ?).</summary>
    public static string KeyFor(DateTimeOffset due, string subject) => $"{due.UtcTicks:D19}|{Instances.InstanceKeys.Escape(subject)}";

    /// <summary>Writes (or rewrites) an entry; the same due time and subject is one row.</summary>
    public async Task ScheduleAsync(string kind, DateTimeOffset due, string subject, CancellationToken cancellationToken)
    {
        var entry = new ScheduleEntry { PartitionKey = kind, RowKey = KeyFor(due, subject), Subject = subject, Due = due };
        await Table.UpsertEntityAsync(entry, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Entries of <paramref name="kind"/> due at or before <paramref name="now"/>, oldest first, at most <paramref name="max"/>.</summary>
    public async Task<IReadOnlyList<ScheduleEntry>> DueAsync(string kind, DateTimeOffset now, int max, CancellationToken cancellationToken)
    {
        var upTo = KeyFor(now, "~");
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {kind} and RowKey le {upTo}");
        var due = new List<ScheduleEntry>();
        await foreach (var entry in Table.QueryAsync<ScheduleEntry>(filter, maxPerPage: Math.Min(max, 1000), cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            due.Add(entry);
            if (due.Count >= max)
            {
                break;
            }
        }

        return due;
    }

    /// <summary>Removes handled entries (unconditionally: an entry rewritten meanwhile has another key).</summary>
    public async Task RemoveAsync(IEnumerable<ScheduleEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var chunk in entries.GroupBy(e => e.PartitionKey).SelectMany(g => g.Chunk(MaxTransaction)))
        {
            try
            {
                await Table.SubmitTransactionAsync(chunk.Select(e => new TableTransactionAction(TableTransactionActionType.Delete, e, ETag.All)), cancellationToken).ConfigureAwait(false);
            }
            catch (TableTransactionFailedException ex) when (ex.Status == 404)
            {
                // One of them went already (an overlapping run): delete the rest one by one.
                foreach (var e in chunk)
                {
                    await Table.DeleteEntityAsync(e.PartitionKey, e.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }
}

public sealed class ScheduleEntry : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string Subject { get; set; } = string.Empty;

    public DateTimeOffset Due { get; set; }
}
