using KooGallery.Functions.Configuration;
using KooGallery.Protocol.Calling;
using KooGallery.Protocol.DialTest;
using Microsoft.ApplicationInsights;
using Microsoft.ApplicationInsights.DataContracts;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.DialTest;

/// <summary>
/// One dial test of the app's own production address: clean up what earlier runs left, note this run for
/// clean-up before anything is created, play <see cref="DialTestRun"/> signed with the first Key (and each
/// further Key once a day), purge the run's orders, then report — an availability result per run and per
/// case, a log line, the console's rows. Reporting never depends on storage: when storage is what is broken,
/// the availability result still says so.
/// </summary>
public sealed class DialTestRunner(
    IOptionsMonitor<DialTestOptions> options,
    IOptionsMonitor<KooGalleryOptions> keys,
    IHttpClientFactory httpClients,
    DialTestStore store,
    DialTestCleanup cleanup,
    DialTestAvailability availability,
    TimeProvider time,
    ILogger<DialTestRunner> logger)
{
    /// <summary>No retry handler: the dial test must see each answer as KooGallery would.</summary>
    public const string HttpClientName = "KooGalleryDialTest";

    public async Task<DialTestReport?> RunAsync(CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled)
        {
            logger.LogDebug("Dial test skipped: DialTest__Url is not set.");
            return null;
        }

        var signing = keys.CurrentValue;
        var now = time.GetUtcNow();
        var runId = DialTestOrders.NewRunId(now);
        await SafelyAsync("clean up earlier runs", runId, () => cleanup.CleanEarlierAsync(runId, cancellationToken)).ConfigureAwait(false);
        await SafelyAsync("note the run for clean-up", runId, () => store.AddCleanupAsync(runId, now, cancellationToken)).ConfigureAwait(false);
        IReadOnlyList<int> due = [];
        await SafelyAsync("read which Keys are due", runId, async () => due = await store.KeysDueAsync(signing.Keys.Count, now, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);

        var http = httpClients.CreateClient(HttpClientName);
        var url = new Uri(settings.Url!);
        var kitKey = signing.KitKeys.Count > 0 ? signing.KitKeys[0] : null;
        var caller = new KooGalleryCaller(http, url, signing.Keys[0], time, kitKey);

        // Answers are signed with the first Key whichever Key signed the call (docs/operations.md, Key rotation).
        var others = due.ToDictionary(i => i, i => new KooGalleryCaller(http, url, signing.Keys[i], time, kitKey, answerKey: signing.Keys[0]));
        var plan = new DialTestPlan
        {
            AnswerBudget = settings.AnswerBudget,
            ReadyTimeout = settings.ReadyTimeout,
            PollInterval = settings.PollInterval,
            Upgrade = settings.Upgrade,
            Licence = settings.Licence,
            TenantSync = settings.TenantSync,
        };
        logger.LogInformation("Dial test {RunId} of {Url} starts (further Keys due: {Keys}).", runId, url, due.Count == 0 ? "none" : string.Join(", ", due.Select(i => "#" + i)));
        var report = await new DialTestRun(caller, plan, others).RunAsync(runId, cancellationToken).ConfigureAwait(false);

        foreach (var index in due.Where(i => report.Cases.Any(c => c.Case == DialTestRun.KeyCase(i) && c.Passed)))
        {
            await SafelyAsync("note a Key as dialled", runId, () => store.MarkKeyDialledAsync(index, now, cancellationToken)).ConfigureAwait(false);
        }

        await SafelyAsync("purge the run's orders", runId, () => cleanup.CleanAsync(runId, settings.CleanupWait, cancellationToken)).ConfigureAwait(false);
        availability.Publish(report);
        if (report.Passed)
        {
            logger.LogInformation("Dial test {RunId} of {Url} passed: {Cases} cases in {DurationMs:F0} ms.", runId, url, report.Cases.Count(c => c.Passed), report.Duration.TotalMilliseconds);
        }
        else
        {
            logger.LogError(
                "KooGallery dial test FAILED at {Case} (run {RunId}, {Url}, instance {InstanceId}): {Reason}",
                report.FirstFailure!.Case, runId, url, report.InstanceId, report.FirstFailure.Reason);
        }

        await SafelyAsync("record the result", runId, () => store.RecordAsync(report, cancellationToken)).ConfigureAwait(false);
        await SafelyAsync("drop old results", runId, () => store.PurgeAsync(now - settings.History, cancellationToken)).ConfigureAwait(false);
        return report;
    }

    private async Task SafelyAsync(string what, string runId, Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning("Dial test {RunId} could not {Step} ({ErrorType}: {Message}); the run goes on.", runId, what, ex.GetType().Name, ex.Message);
        }
    }
}

/// <summary>
/// The results as Application Insights availability tests write them (the <c>availabilityResults</c> table):
/// one per run, named <see cref="RunName"/>, whose message names the failing case, and one per case played.
/// </summary>
public sealed class DialTestAvailability(TelemetryClient telemetry)
{
    public const string RunName = "KooGallery dial test";

    public static string CaseName(string dialCase) => $"{RunName}: {dialCase}";

    public void Publish(DialTestReport report)
    {
        var location = Environment.GetEnvironmentVariable("REGION_NAME") ?? "KooGallery Functions";
        var run = new AvailabilityTelemetry(RunName, report.StartedAt, report.Duration, location, report.Passed, Cut(report.Summary)) { Id = report.RunId };
        run.Properties["runId"] = report.RunId;
        run.Properties["url"] = report.Url;
        run.Properties["failedCase"] = report.FirstFailure?.Case ?? string.Empty;
        telemetry.TrackAvailability(run);
        foreach (var c in report.Cases.Where(c => c.Outcome != DialCaseOutcome.Skipped))
        {
            var result = new AvailabilityTelemetry(CaseName(c.Case), report.StartedAt, TimeSpan.FromMilliseconds(c.ElapsedMs), location, c.Passed, Cut(c.Reason ?? "passed"));
            result.Properties["runId"] = report.RunId;
            telemetry.TrackAvailability(result);
        }

        telemetry.Flush();
    }

    private static string Cut(string s) => s.Length <= 1000 ? s : s[..999] + "…";
}
