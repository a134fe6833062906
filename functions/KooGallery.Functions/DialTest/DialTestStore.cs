using System.Globalization;
using System.Text.Json;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Protocol.DialTest;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.DialTest;

/// <summary>
/// The dial test's rows in the operations table, each read bounded by what is shown: runs newest first
/// (partition <c>dial-runs</c>), one row per UTC day (<c>dial-days</c>, the 7-day strip), when each further
/// Key was last dialled (<c>dial-keys</c>), and the runs whose orders are not yet purged (<c>dial-cleanup</c>,
/// written before a run creates anything, so a run that dies half-way is found by the next).
/// </summary>
public sealed class DialTestStore(TableServiceClient tables, IOptions<StorageOptions> names)
{
    public const string RunPartition = "dial-runs";
    public const string DayPartition = "dial-days";
    public const string KeyPartition = "dial-keys";
    public const string CleanupPartition = "dial-cleanup";

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private TableClient Table => tables.GetTableClient(names.Value.OperationsTable);

    public Task AddCleanupAsync(string runId, DateTimeOffset at, CancellationToken cancellationToken) =>
        Table.UpsertEntityAsync(new TableEntity(CleanupPartition, runId) { ["CreatedAt"] = at }, TableUpdateMode.Replace, cancellationToken);

    public async Task<IReadOnlyList<string>> PendingCleanupsAsync(int max, CancellationToken cancellationToken) =>
        await Table.QueryAsync<TableEntity>(e => e.PartitionKey == CleanupPartition, maxPerPage: max, select: ["RowKey"], cancellationToken: cancellationToken)
            .Take(max).Select(e => e.RowKey).ToListAsync(cancellationToken).ConfigureAwait(false);

    public Task RemoveCleanupAsync(string runId, CancellationToken cancellationToken) =>
        Table.DeleteEntityAsync(CleanupPartition, runId, ETag.All, cancellationToken);

    /// <summary>The run row and its day's counts: two writes, the day under its ETag (several instances may finish runs together).</summary>
    public async Task RecordAsync(DialTestReport report, CancellationToken cancellationToken)
    {
        var run = new TableEntity(RunPartition, RunKey(report.StartedAt, report.RunId))
        {
            ["RunId"] = report.RunId,
            ["StartedAt"] = report.StartedAt,
            ["DurationMs"] = Math.Round(report.Duration.TotalMilliseconds, 1),
            ["Passed"] = report.Passed,
            ["Summary"] = Cut(report.Summary, 1000),
            ["FailedCase"] = report.FirstFailure?.Case,
            ["Url"] = report.Url,
            ["InstanceId"] = report.InstanceId,
            ["Cases"] = JsonSerializer.Serialize(report.Cases.Select(CaseView), Web),
        };
        await Table.UpsertEntityAsync(run, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);

        var day = report.StartedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        for (var attempt = 0; ; attempt++)
        {
            var found = await Table.GetEntityIfExistsAsync<TableEntity>(DayPartition, day, cancellationToken: cancellationToken).ConfigureAwait(false);
            var row = found.HasValue ? found.Value! : new TableEntity(DayPartition, day);
            row["Runs"] = (row.GetInt32("Runs") ?? 0) + 1;
            row["Failed"] = (row.GetInt32("Failed") ?? 0) + (report.Passed ? 0 : 1);
            row["LastRunAt"] = report.StartedAt;
            if (!report.Passed)
            {
                row["LastFailure"] = Cut(report.Summary, 1000);
            }

            try
            {
                if (found.HasValue)
                {
                    await Table.UpdateEntityAsync(row, row.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await Table.AddEntityAsync(row, cancellationToken).ConfigureAwait(false);
                }

                return;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412 && attempt < 5)
            {
                // Another instance counted a run of the same day in between: read again.
            }
        }
    }

    /// <summary>Further Keys (numbers 1…) not dialled in the last day, so every Key is proven once a day.</summary>
    public async Task<IReadOnlyList<int>> KeysDueAsync(int keyCount, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (keyCount <= 1)
        {
            return [];
        }

        var dialled = (await Table.QueryAsync<TableEntity>(e => e.PartitionKey == KeyPartition, cancellationToken: cancellationToken)
            .ToListAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(e => e.RowKey, e => e.GetDateTimeOffset("LastDialledAt"), StringComparer.Ordinal);
        return Enumerable.Range(1, keyCount - 1)
            .Where(i => dialled.GetValueOrDefault(i.ToString(CultureInfo.InvariantCulture)) is not { } at || now - at >= TimeSpan.FromDays(1))
            .ToList();
    }

    public Task MarkKeyDialledAsync(int index, DateTimeOffset at, CancellationToken cancellationToken) =>
        Table.UpsertEntityAsync(new TableEntity(KeyPartition, index.ToString(CultureInfo.InvariantCulture)) { ["LastDialledAt"] = at }, TableUpdateMode.Replace, cancellationToken);

    public async Task<IReadOnlyList<DialRunView>> RecentAsync(int take, CancellationToken cancellationToken) =>
        await Table.QueryAsync<TableEntity>(e => e.PartitionKey == RunPartition, maxPerPage: take, cancellationToken: cancellationToken)
            .Take(take).Select(RunView).ToListAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>The day rows from <paramref name="from"/> on: at most one per day.</summary>
    public async Task<IReadOnlyList<DialDayView>> DaysAsync(DateTimeOffset from, CancellationToken cancellationToken)
    {
        var first = from.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        return await Table.QueryAsync<TableEntity>(e => e.PartitionKey == DayPartition && e.RowKey.CompareTo(first) >= 0, cancellationToken: cancellationToken)
            .Select(e => new DialDayView(e.RowKey, e.GetInt32("Runs") ?? 0, e.GetInt32("Failed") ?? 0, e.GetString("LastFailure"), e.GetDateTimeOffset("LastRunAt")))
            .ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Drops runs and days older than <paramref name="before"/>, a page at a time (runs sort newest first).</summary>
    public async Task<int> PurgeAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var oldRuns = RunKey(before, string.Empty);
        var lastDay = before.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        // Two partition-scoped range reads, never a scan of the operations table.
        var runs = await Table.QueryAsync<TableEntity>(e => e.PartitionKey == RunPartition && e.RowKey.CompareTo(oldRuns) > 0, maxPerPage: 100, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken)
            .Take(100).ToListAsync(cancellationToken).ConfigureAwait(false);
        var days = await Table.QueryAsync<TableEntity>(e => e.PartitionKey == DayPartition && e.RowKey.CompareTo(lastDay) < 0, maxPerPage: 100, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken)
            .Take(100).ToListAsync(cancellationToken).ConfigureAwait(false);
        var old = runs.Concat(days).ToList();
        foreach (var e in old)
        {
            await Table.DeleteEntityAsync(e.PartitionKey, e.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
        }

        return old.Count;
    }

    /// <summary>Newest first: the ticks left until the end of time, then the run id.</summary>
    private static string RunKey(DateTimeOffset startedAt, string runId) =>
        (DateTimeOffset.MaxValue.UtcTicks - startedAt.UtcTicks).ToString("D19", CultureInfo.InvariantCulture) + "|" + runId;

    // Reasons cut to 500 characters: a run row stays far below the 64 KiB an entity property may hold.
    private static DialCaseView CaseView(DialCaseResult c) => new(c.Case, c.Outcome.ToString(), c.Reason is null ? null : Cut(c.Reason, 500), c.ElapsedMs, c.Calls, c.LastAnswer);

    private static DialRunView RunView(TableEntity e) => new(
        e.GetString("RunId") ?? string.Empty,
        e.GetDateTimeOffset("StartedAt"),
        e.GetDouble("DurationMs") ?? 0,
        e.GetBoolean("Passed") ?? false,
        e.GetString("Summary"),
        e.GetString("FailedCase"),
        e.GetString("Url"),
        JsonSerializer.Deserialize<List<DialCaseView>>(e.GetString("Cases") ?? "[]", Web) ?? []);

    private static string Cut(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";
}

public sealed record DialCaseView(string Case, string Outcome, string? Reason, double ElapsedMs, int Calls, string? LastAnswer);

public sealed record DialRunView(string RunId, DateTimeOffset? StartedAt, double DurationMs, bool Passed, string? Summary, string? FailedCase, string? Url, IReadOnlyList<DialCaseView> Cases);

public sealed record DialDayView(string Day, int Runs, int Failed, string? LastFailure, DateTimeOffset? LastRunAt);
