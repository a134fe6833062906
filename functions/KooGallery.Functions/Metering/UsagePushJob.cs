using KooGallery.Functions.Marketplace;
using Microsoft.ApplicationInsights;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>What one push run did, and what it read to do it.</summary>
/// <param name="LeftPending">Rows left unsent for the next run (sealed as they were offered, or not yet sealed).</param>
/// <param name="RequestRefusals">Pushes KooGallery refused as a whole (gateway, signature, throttling, its own errors): the rows were left untouched.</param>
public sealed record UsagePushSummary(int Pushed, int Batches, int LeftPending, int HoursHeldByOtherRuns, int UnsentPastAlertAge, int Rejected, int EntitiesRead, int RequestRefusals = 0);

/// <summary>
/// Empties the usage outbox, one run at a time per hour. For each open hour in the ledger it takes the hour's
/// lease (a row only push runs write), reads the rows still to send, and <b>seals</b> the pending ones in the
/// same ETag-checked write that takes them — before KooGallery sees them — so a value KooGallery may have
/// recorded under a <c>metering_sn</c> never changes; later records open the next sequence. It pushes sealed
/// rows in batches of at most 1000 and marks them sent. What KooGallery answers decides what happens to rows:
/// <list type="bullet">
/// <item>no answer, a timeout, a dropped connection, HTTP errors, a malformed answer, its internal error, or
/// any refusal of the request as a whole: the rows stay sealed and untouched, and go out as they are on the
/// next run (KooGallery keeps the first value per <c>metering_sn</c>, and it is the same value);</item>
/// <item>a refusal for something in the batch (<see cref="MeteringOptions.RowLevelResultCodes"/>): the batch is
/// halved until the refused rows stand alone, and those are marked rejected with the reason — but only once
/// this run has seen KooGallery accept a push, proof that the request itself is sound (<see cref="IsolateAsync"/>
/// says how the proof is sought); without it, the refusal is taken as one of the request.</item>
/// </list>
/// An hour is closed once every row read is final, under the ETag read before its rows were read, so a row
/// created meanwhile keeps it open. Cost follows what is due, not history.
/// </summary>
public sealed class UsagePushJob(
    UsageStore usage,
    KooGalleryOpenApi koogallery,
    IOptionsMonitor<MeteringOptions> options,
    TimeProvider time,
    TelemetryClient telemetry,
    ILogger<UsagePushJob> logger)
{
    /// <summary>Batches of 1000 rows pushed at the same time.</summary>
    public const int ParallelPushes = 4;

    public async Task<UsagePushSummary> RunAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var settings = options.CurrentValue;
        var owner = Guid.NewGuid().ToString("N");
        var hours = await usage.OpenHoursAsync(now, cancellationToken).ConfigureAwait(false);
        var entitiesRead = hours.Count;
        var taken = new List<Hour>(hours.Count);
        var lostHours = 0;
        foreach (var ledger in hours)
        {
            var lease = await usage.TryLeaseHourAsync(ledger.RowKey, owner, now + settings.LeaseDuration, cancellationToken).ConfigureAwait(false);
            entitiesRead++;
            if (lease is null)
            {
                lostHours++;
                continue;
            }

            var rows = await usage.UnsentRowsAsync(ledger.RowKey, cancellationToken).ConfigureAwait(false);
            entitiesRead += rows.Count;
            taken.Add(new Hour(ledger, lease, rows));
        }

        var due = taken.SelectMany(h => h.Rows).Where(r => r.PeriodEnd <= now).ToList();
        var offered = await usage.SealAsync(due, owner, cancellationToken).ConfigureAwait(false);

        // A few batches in flight at once: each push waits on KooGallery, its marks on storage.
        var run = new Run(settings.EffectiveRowLevelResultCodes);
        await Parallel.ForEachAsync(
            offered.OrderBy(r => r.PeriodEnd).Chunk(KooGalleryOpenApi.MaxUsageRecordsPerPush),
            new ParallelOptions { MaxDegreeOfParallelism = ParallelPushes, CancellationToken = cancellationToken },
            async (batch, ct) =>
            {
                run.Add(batches: 1);
                await PushAsync(batch, now, run, ct).ConfigureAwait(false);
            }).ConfigureAwait(false);

        var finishedRows = run.Finished;
        var finished = finishedRows.Select(Key).ToHashSet(StringComparer.Ordinal);
        var finishedByHour = finishedRows.ToLookup(r => r.PartitionKey, StringComparer.Ordinal);
        bool Done(UsageRowEntity r) => finished.Contains(Key(r));
        foreach (var hour in taken)
        {
            var mine = finishedByHour[UsageRowEntity.PartitionPrefix + hour.Ledger.RowKey].ToList();
            var sent = mine.Where(r => r.Status == UsageStatus.Sent).ToList();
            hour.Lease.SentRows += sent.Count;
            hour.Lease.SentValue = UsageValues.Format(decimal.Parse(hour.Lease.SentValue, System.Globalization.CultureInfo.InvariantCulture) + sent.Sum(r => r.Value));
            hour.Lease.RejectedRows += mine.Count(r => r.Status == UsageStatus.Rejected);
            hour.Lease.WaitingRows = hour.Rows.Count(r => !Done(r));
            hour.Lease.LastError = hour.Lease.WaitingRows > 0 ? run.LastError : null;
            await usage.ReleaseHourAsync(hour.Lease, cancellationToken).ConfigureAwait(false);
            if (hour.Rows.All(Done))
            {
                await usage.TryCloseHourAsync(hour.Ledger, now, cancellationToken).ConfigureAwait(false);
            }
        }

        var alertBefore = now - settings.UnsentAlertAge;
        var unsent = taken.SelectMany(h => h.Rows).Where(r => r.PeriodEnd < alertBefore && !Done(r)).ToList();
        var staleHours = hours.Count(h => string.CompareOrdinal(UsageRowEntity.HourKey(alertBefore), h.RowKey) > 0 && !taken.Any(t => t.Ledger.RowKey == h.RowKey));
        telemetry.GetMetric("KooGallery.UsageUnsentRows").TrackValue(unsent.Count);
        if (unsent.Count > 0 || staleHours > 0)
        {
            // The unsent-usage alert keys on this line (and the metric above).
            logger.LogWarning(
                "UNSENT USAGE: {Rows} usage rows ended more than {AgeMinutes} min ago and are not accepted by KooGallery yet ({StaleHours} such hours were held by another run); oldest period ended {Oldest:O}, e.g. instance {InstanceId}: {LastError}",
                unsent.Count, settings.UnsentAlertAge.TotalMinutes, staleHours, unsent.Count > 0 ? unsent.Min(r => r.PeriodEnd) : null, unsent.FirstOrDefault()?.InstanceId, run.LastError);
        }

        var summary = new UsagePushSummary(run.Pushed, run.Batches, taken.Sum(h => h.Rows.Count(r => !Done(r))), lostHours, unsent.Count, run.Rejected, entitiesRead, run.RequestRefusals);
        logger.LogInformation(
            "Usage push run: {Pushed} rows pushed in {Batches} batches, {Rejected} rejected by KooGallery, {RequestRefusals} pushes refused as a whole, {LeftPending} left for the next run, {Lost} hours held by another run, {Unsent} unsent past the alert age; {EntitiesRead} entities read.",
            summary.Pushed, summary.Batches, summary.Rejected, summary.RequestRefusals, summary.LeftPending, summary.HoursHeldByOtherRuns, summary.UnsentPastAlertAge, summary.EntitiesRead);
        return summary;
    }

    private static string Key(UsageRowEntity r) => r.PartitionKey + "|" + r.RowKey;

    private async Task PushAsync(IReadOnlyList<UsageRowEntity> rows, DateTimeOffset now, Run run, CancellationToken cancellationToken)
    {
        if ((await SendAsync(rows, now, run, cancellationToken).ConfigureAwait(false)).Refusal is { } refusal)
        {
            await IsolateAsync(rows, refusal, now, run, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Offers sealed rows once and marks them sent when KooGallery accepts. Returns the refusal when it may be about
    /// some of the rows; every other failure leaves the rows as they are (logged).
    /// </summary>
    private async Task<Sent> SendAsync(IReadOnlyList<UsageRowEntity> rows, DateTimeOffset now, Run run, CancellationToken cancellationToken)
    {
        if (run.RequestRefused)
        {
            return default; // the request itself is refused this run: nothing more goes out until the next one
        }

        var records = rows.Select(r => new UsageRecord(
            r.InstanceId,
            UsageRecord.FormatTime(now),
            UsageRecord.FormatTime(r.PeriodStart),
            UsageRecord.FormatTime(r.PeriodEnd),
            r.UsageValue,
            r.MeteringSn,
            r.RelatePackageInstance)).ToList();
        UsagePushResult result;
        try
        {
            result = await koogallery.PushUsageAsync(records, cancellationToken).ConfigureAwait(false);
        }
        catch (MarketplaceBusinessException ex) when (run.IsRowLevel(ex.ResultCode))
        {
            return new Sent(false, ex);
        }
        catch (MarketplaceException ex)
        {
            RefusedAsAWhole(rows.Count, ex, run, stop: !ex.IsTransient);
            return default;
        }

        run.Accepted();
        try
        {
            var marked = await usage.MarkSentAsync(rows, result.ResultCode, result.ResultMsg, cancellationToken).ConfigureAwait(false);
            run.Add(pushed: rows.Count, finished: marked);
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or InvalidOperationException)
        {
            // Accepted, but not marked: the rows stay sealed, and the next run offers them again, unchanged, under the
            // same metering_sn — KooGallery keeps the value it has.
            run.Add(pushed: rows.Count);
            logger.LogError("KooGallery accepted {Rows} usage rows but marking them sent failed ({Error}); they stay sealed and are offered again, unchanged, next run.", rows.Count, ex.Message);
        }

        return new Sent(true, null);
    }

    /// <summary>
    /// A refusal that may be about some rows: halve until they stand alone. Rows are rejected only once this run
    /// has seen KooGallery accept a push, proof that the request itself is sound. Without that proof, both halves
    /// of the refused part are offered, and while both are refused the first half is split again: at most
    /// 2 log2(n) calls, and a clean half anywhere on the way (whichever end the refused rows sort to) is the proof.
    /// If even that finds none, the refusal is taken as one of the request, and the rows stay untouched.
    /// </summary>
    private async Task IsolateAsync(IReadOnlyList<UsageRowEntity> rows, MarketplaceBusinessException refusal, DateTimeOffset now, Run run, CancellationToken cancellationToken)
    {
        if (!run.HasAccepted)
        {
            var part = rows;
            while (part.Count > 1 && !run.HasAccepted)
            {
                var middle = part.Count / 2;
                IReadOnlyList<UsageRowEntity>[] halves = [part.Take(middle).ToList(), part.Skip(middle).ToList()];
                MarketplaceBusinessException? firstRefusal = null;
                foreach (var piece in halves)
                {
                    var outcome = await SendAsync(piece, now, run, cancellationToken).ConfigureAwait(false);
                    if (outcome.Accepted)
                    {
                        break;
                    }

                    if (outcome.Refusal is null)
                    {
                        return; // failed otherwise (logged): the rows wait, untouched, for the next run
                    }

                    firstRefusal ??= outcome.Refusal;
                }

                refusal = firstRefusal ?? refusal;
                part = halves[0];
            }

            if (!run.HasAccepted)
            {
                RefusedAsAWhole(rows.Count, refusal, run, stop: true);
                return;
            }

            // What is left (all of it, when another batch gave the proof) is bisected as usual.
            var sent = run.Finished.Select(Key).ToHashSet(StringComparer.Ordinal);
            rows = rows.Where(r => !sent.Contains(Key(r))).ToList();
            if (rows.Count > 0)
            {
                await PushAsync(rows, now, run, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        if (rows.Count == 1)
        {
            await RejectAsync(rows[0], refusal, run, cancellationToken).ConfigureAwait(false);
            return;
        }

        logger.LogWarning("Usage push of {Rows} rows refused ({ResultCode}: {ResultMsg}); halving the batch to find the rows it refuses.", rows.Count, refusal.ResultCode, refusal.ResultMsg);
        var half = rows.Count / 2;
        await PushAsync(rows.Take(half).ToList(), now, run, cancellationToken).ConfigureAwait(false);
        await PushAsync(rows.Skip(half).ToList(), now, run, cancellationToken).ConfigureAwait(false);
    }

    private async Task RejectAsync(UsageRowEntity row, MarketplaceBusinessException refusal, Run run, CancellationToken cancellationToken)
    {
        var marked = await usage.MarkRejectedAsync(row, refusal.ResultCode, refusal.ResultMsg, cancellationToken).ConfigureAwait(false);
        run.Add(rejected: 1, finished: marked ? [row] : []);

        // The rejected-usage alert keys on this line.
        logger.LogError(
            "REJECTED USAGE: KooGallery refused the usage row of instance {InstanceId} for {PeriodStart:O} (metering_sn {MeteringSn}, value {UsageValue}): {ResultCode} {ResultMsg}. It is kept as rejected; re-drive it (POST /api/ops/usage/rejected/redrive) once the cause is fixed.",
            row.InstanceId, row.PeriodStart, row.MeteringSn, row.UsageValue, refusal.ResultCode, refusal.ResultMsg);
    }

    private void RefusedAsAWhole(int rows, MarketplaceException ex, Run run, bool stop)
    {
        run.RefusedAsAWhole(ex.Message, stop);
        if (!stop)
        {
            logger.LogError("Usage push of {Rows} rows failed ({Error}); they stay sealed as offered and go out unchanged, under the same metering_sn, next run.", rows, ex.Message);
        }
        else
        {
            // The refused-push alert keys on this line: nothing goes out until its cause (Key, AK/SK, account) is fixed.
            logger.LogError("USAGE PUSH REFUSED: KooGallery refused the usage push as a whole ({Error}); {Rows} rows stay sealed and untouched and are offered again on every run. Check the Key (KooGallery__Keys__0), the AK/SK and the account.", ex.Message, rows);
        }
    }

    private readonly record struct Sent(bool Accepted, MarketplaceBusinessException? Refusal);

    private sealed record Hour(UsageHourEntity Ledger, UsageHourRunEntity Lease, IReadOnlyList<UsageRowEntity> Rows);

    /// <summary>The tally of one run; batches report into it concurrently.</summary>
    private sealed class Run(IReadOnlyCollection<string> rowLevelCodes)
    {
        private readonly Lock gate = new();
        private readonly List<UsageRowEntity> finished = [];
        private volatile bool accepted;
        private volatile bool refused;

        public int Pushed { get; private set; }

        public int Batches { get; private set; }

        public int Rejected { get; private set; }

        public int RequestRefusals { get; private set; }

        public string? LastError { get; private set; }

        public bool HasAccepted => accepted;

        public bool RequestRefused => refused;

        public bool IsRowLevel(string resultCode) => rowLevelCodes.Contains(resultCode);

        public void Accepted() => accepted = true;

        public void RefusedAsAWhole(string error, bool stop)
        {
            lock (gate)
            {
                RequestRefusals++;
                LastError = error.Length > 1000 ? error[..1000] : error;
            }

            refused |= stop;
        }

        public IReadOnlyList<UsageRowEntity> Finished
        {
            get
            {
                lock (gate)
                {
                    return finished.ToList();
                }
            }
        }

        public void Add(int pushed = 0, int batches = 0, int rejected = 0, IEnumerable<UsageRowEntity>? finished = null)
        {
            lock (gate)
            {
                Pushed += pushed;
                Batches += batches;
                Rejected += rejected;
                this.finished.AddRange(finished ?? []);
            }
        }
    }
}
