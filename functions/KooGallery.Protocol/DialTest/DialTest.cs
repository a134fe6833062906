using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using KooGallery.Protocol.Calling;

namespace KooGallery.Protocol.DialTest;

/// <summary>
/// The ids a dial test uses. They say what they are, so a person reading a log, the console or the seller
/// console's order list knows at once; the app recognises a dial-test order only together with
/// <c>testFlag=1</c>, which KooGallery never sets on a real order.
/// </summary>
public static class DialTestOrders
{
    public const string OrderPrefix = "DIALTEST-";

    /// <summary>A run id: UTC time to the second (sorts by time) and 6 random hex characters (two runs never meet).</summary>
    public static string NewRunId(DateTimeOffset now) =>
        now.UtcDateTime.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture) + Guid.NewGuid().ToString("N")[..6];

    public static string OrderId(string runId) => OrderPrefix + runId;

    public static string OrderLineId(string runId) => OrderId(runId) + "-000001";

    public static string RenewalOrderId(string runId) => OrderId(runId) + "-RENEW";

    public static string UpgradeOrderId(string runId) => OrderId(runId) + "-UPGRADE";

    public static string License(string runId) => "PL" + OrderId(runId).Replace("-", string.Empty, StringComparison.Ordinal);

    public static string TenantId(string runId) => "dialtest-" + runId;

    /// <summary>Whether an order of a <c>testFlag=1</c> call is one of ours (and so never a failed order).</summary>
    public static bool IsDialTestOrder(string? orderId, bool isTest) =>
        isTest && orderId is not null && orderId.StartsWith(OrderPrefix, StringComparison.Ordinal);
}

/// <summary>Which cases a dial test plays and the limits it holds the answers to.</summary>
public sealed class DialTestPlan
{
    /// <summary>KooGallery's client timeout: a slower answer fails its case.</summary>
    public TimeSpan AnswerBudget { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long <c>queryInstance</c> may answer 000004 before the instance counts as never ready.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Play <c>upgradeInstance</c> (products with specifications to upgrade to).</summary>
    public bool Upgrade { get; init; } = true;

    /// <summary>Play the licence callbacks (licence-code products).</summary>
    public bool Licence { get; init; }

    /// <summary>Play a <c>tenantSync</c> and its deletion (joint-operation products).</summary>
    public bool TenantSync { get; init; }

    /// <summary>The identity domain a dial-test <c>tenantSync</c> names (https; never called: the tenant has no application).</summary>
    public string TenantDomain { get; init; } = "https://dialtest.invalid";
}

public enum DialCaseOutcome
{
    Passed,
    Failed,

    /// <summary>Not played: a case it depends on failed (the run is already failed by that case).</summary>
    Skipped,
}

/// <summary>One case's result: the slowest answer it saw is its time.</summary>
public sealed record DialCaseResult(string Case, DialCaseOutcome Outcome, string? Reason, double ElapsedMs, int Calls, string? LastAnswer = null)
{
    public bool Passed => Outcome == DialCaseOutcome.Passed;
}

public sealed record DialTestReport(string RunId, string Url, DateTimeOffset StartedAt, TimeSpan Duration, string? InstanceId, IReadOnlyList<DialCaseResult> Cases)
{
    public bool Passed => Cases.All(c => c.Outcome != DialCaseOutcome.Failed);

    /// <summary>The first case that failed: what the run's result names.</summary>
    public DialCaseResult? FirstFailure => Cases.FirstOrDefault(c => c.Outcome == DialCaseOutcome.Failed);

    /// <summary>One line: what an availability result's message and a log line say.</summary>
    public string Summary => FirstFailure is { } failed
        ? $"{failed.Case} failed: {failed.Reason}"
        : $"all {Cases.Count(c => c.Passed)} cases passed";

    public string ToTable()
    {
        var builder = new StringBuilder();
        builder.AppendLine(CultureInfo.InvariantCulture, $"Dial test {RunId} of {Url}");
        foreach (var c in Cases)
        {
            var result = c.Outcome switch { DialCaseOutcome.Passed => "pass", DialCaseOutcome.Failed => "FAIL", _ => "skip" };
            builder.AppendLine(CultureInfo.InvariantCulture, $"{c.Case,-34} {result,-5} {c.ElapsedMs,7:F0} ms  {c.Reason}");
        }

        builder.AppendLine(CultureInfo.InvariantCulture, $"Dial test: {(Passed ? "passed" : "FAILED")} ({Summary}).");
        return builder.ToString();
    }
}

/// <summary>
/// The seller console's debug cases, played against a production address the way KooGallery's dial test
/// plays them: a <c>testFlag=1</c> order named <c>DIALTEST-…</c> is created, polled until ready, renewed,
/// frozen, unfrozen, upgraded and released; licence and <c>tenantSync</c> callbacks when the product has
/// them; and a call signed with each further Key. Every answer is held to the debug tool's checks
/// (<see cref="AnswerCheck"/>) and the 5-second budget. The one definition of the cases, used by the app's
/// timer and by <c>koogallery-sim dial</c>.
/// </summary>
/// <param name="caller">Signs with the first Key (and the kit Key for <c>tenantSync</c>).</param>
/// <param name="otherKeys">One caller per further Key whose turn it is, by Key number.</param>
public sealed class DialTestRun(KooGalleryCaller caller, DialTestPlan plan, IReadOnlyDictionary<int, KooGalleryCaller>? otherKeys = null)
{
    public const string NewInstanceCase = "newInstance";
    public const string QueryInstanceCase = "queryInstance";
    public const string RefreshInstanceCase = "refreshInstance";
    public const string FreezeCase = "updateInstanceStatus FREEZE";
    public const string UnfreezeCase = "updateInstanceStatus UNFREEZE";
    public const string UpgradeCase = "upgradeInstance";
    public const string TenantSyncCase = "tenantSync";
    public const string ReleaseCase = "releaseInstance";
    public const string LicenceCase = "licence callbacks";

    public static string KeyCase(int index) => $"Key #{index}";

    private readonly List<DialCaseResult> results = [];
    private string? instanceId;

    public async Task<DialTestReport> RunAsync(string runId, CancellationToken cancellationToken = default)
    {
        var started = caller.Now;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Case(NewInstanceCase, c => NewInstance(c, runId, cancellationToken), needsInstance: false).ConfigureAwait(false);
        await Case(QueryInstanceCase, c => QueryUntilReady(c, cancellationToken)).ConfigureAwait(false);
        await Case(RefreshInstanceCase, c => Refresh(c, runId, cancellationToken)).ConfigureAwait(false);
        await Case(FreezeCase, c => Status(c, "FREEZE", cancellationToken)).ConfigureAwait(false);
        await Case(UnfreezeCase, c => Status(c, "UNFREEZE", cancellationToken)).ConfigureAwait(false);
        if (plan.Upgrade)
        {
            await Case(UpgradeCase, c => Upgrade(c, runId, cancellationToken)).ConfigureAwait(false);
        }

        foreach (var (index, other) in (otherKeys ?? new Dictionary<int, KooGalleryCaller>()).OrderBy(k => k.Key))
        {
            await Case(KeyCase(index), c => SignedWith(c, other, cancellationToken)).ConfigureAwait(false);
        }

        if (plan.TenantSync)
        {
            await Case(TenantSyncCase, c => TenantSync(c, runId, cancellationToken)).ConfigureAwait(false);
        }

        // Played whenever there is an instance, even after a failure: the run leaves nothing behind it can remove.
        await Case(ReleaseCase, c => Release(c, cancellationToken), cleanup: true).ConfigureAwait(false);
        if (plan.Licence)
        {
            await Case(LicenceCase, c => Licence(c, runId, cancellationToken), needsInstance: false).ConfigureAwait(false);
        }

        return new DialTestReport(runId, caller.Url.ToString(), started, watch.Elapsed, instanceId, results);
    }

    private async Task Case(string name, Func<AnswerCheck, Task> body, bool needsInstance = true, bool cleanup = false)
    {
        var failedBefore = results.Any(r => r.Outcome == DialCaseOutcome.Failed);
        if ((needsInstance && instanceId is null) || (failedBefore && !cleanup))
        {
            var why = needsInstance && instanceId is null ? "no instance (newInstance failed)" : "an earlier case failed";
            results.Add(new DialCaseResult(name, DialCaseOutcome.Skipped, "not played: " + why, 0, 0));
            return;
        }

        var check = new AnswerCheck(plan.AnswerBudget);
        try
        {
            await body(check).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            check.Fail($"{ex.GetType().Name}: {ex.Message}");
        }

        results.Add(new DialCaseResult(
            name,
            check.Failures.Count == 0 ? DialCaseOutcome.Passed : DialCaseOutcome.Failed,
            check.Failures.Count == 0 ? null : string.Join("; ", check.Failures),
            Math.Round(check.Slowest.TotalMilliseconds, 1),
            check.Calls,
            check.LastAnswer is { Length: > 200 } answer ? answer[..199] + "…" : check.LastAnswer));
    }

    private Task<CallResult> Call(AnswerCheck check, string activity, object fields, CancellationToken ct, KooGalleryCaller? with = null)
    {
        check.Calls++;
        return (with ?? caller).CallAsync(activity, fields, ct);
    }

    private async Task NewInstance(AnswerCheck check, string runId, CancellationToken ct)
    {
        var reply = await Call(check, "newInstance", new
        {
            businessId = Guid.NewGuid().ToString(),
            orderId = DialTestOrders.OrderId(runId),
            orderLineId = DialTestOrders.OrderLineId(runId),
            testFlag = "1",
        }, ct).ConfigureAwait(false);

        // An instance the app created is released even when its answer failed a check (a proxy that breaks the
        // Body-Sign still let the call through), so the id is taken from any parseable answer.
        if (reply.InstanceId is { Length: > 0 and <= 64 } id && reply.ResultCode == "000000")
        {
            instanceId = id;
        }

        if (check.Answer(reply, "000000", "newInstance") && instanceId is null)
        {
            check.Fail("newInstance: instanceId missing or longer than 64 characters");
        }
    }

    private async Task QueryUntilReady(AnswerCheck check, CancellationToken ct)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var reply = await Call(check, "queryInstance", new { instanceId, testFlag = "1" }, ct).ConfigureAwait(false);
            if (reply.ResultCode == "000004" && check.WellFormed(reply, "queryInstance while provisioning"))
            {
                if (waited.Elapsed >= plan.ReadyTimeout)
                {
                    check.Fail($"queryInstance: still provisioning (000004) after {plan.ReadyTimeout.TotalSeconds:F0} s");
                    return;
                }

                await Task.Delay(plan.PollInterval, ct).ConfigureAwait(false);
                continue;
            }

            if (!check.Answer(reply, "000000", "queryInstance"))
            {
                return;
            }

            var item = (reply.Json?["info"] as JsonArray)?.FirstOrDefault(i => i?["instanceId"]?.GetValue<string>() == instanceId);
            var url = item?["appInfo"]?["frontEndUrl"]?.GetValue<string>();
            if (string.IsNullOrEmpty(url) || url.Length > 512)
            {
                check.Fail("queryInstance: no info[].appInfo.frontEndUrl (at most 512 characters)");
            }

            return;
        }
    }

    private async Task Refresh(AnswerCheck check, string runId, CancellationToken ct)
    {
        var order = DialTestOrders.RenewalOrderId(runId);
        var expire = caller.Now.AddYears(1).ToOffset(TimeSpan.FromHours(8)).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var reply = await Call(check, "refreshInstance", new { instanceId, orderId = order, orderLineId = order + "-000001", scene = "RENEWAL", expireTime = expire, testFlag = "1" }, ct).ConfigureAwait(false);
        check.Answer(reply, "000000", "refreshInstance RENEWAL");
    }

    private async Task Status(AnswerCheck check, string status, CancellationToken ct) =>
        check.Answer(await Call(check, "updateInstanceStatus", new { instanceId, status, testFlag = "1" }, ct).ConfigureAwait(false), "000000", "updateInstanceStatus " + status);

    private async Task Upgrade(AnswerCheck check, string runId, CancellationToken ct)
    {
        var order = DialTestOrders.UpgradeOrderId(runId);
        var reply = await Call(check, "upgradeInstance", new { instanceId, orderId = order, orderLineId = order + "-000001", testFlag = "1" }, ct).ConfigureAwait(false);
        check.Answer(reply, "000000", "upgradeInstance");
    }

    /// <summary>A call signed with another configured Key: KooGallery may hold that one after a rotation.</summary>
    private async Task SignedWith(AnswerCheck check, KooGalleryCaller other, CancellationToken ct) =>
        check.Answer(await Call(check, "queryInstance", new { instanceId, testFlag = "1" }, ct, other).ConfigureAwait(false), "000000", "queryInstance signed with this Key");

    private async Task TenantSync(AnswerCheck check, string runId, CancellationToken ct)
    {
        var tenant = DialTestOrders.TenantId(runId);
        foreach (var flag in new[] { 1, 0 })
        {
            var body = new JsonObject
            {
                ["domainName"] = plan.TenantDomain,
                ["flag"] = flag,
                ["instanceId"] = instanceId,
                ["name"] = "KooGallery dial test",
                ["orderId"] = DialTestOrders.OrderId(runId),
                ["tenantCode"] = tenant,
                ["tenantId"] = tenant,
                ["testFlag"] = 1,
                ["timeStamp"] = caller.Now.ToOffset(TimeSpan.FromHours(8)).ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture),
            }.ToJsonString();
            check.Calls++;
            check.Answer(await caller.SendKitAsync("tenantSync", body, cancellationToken: ct).ConfigureAwait(false), "000000", flag == 1 ? "tenantSync add" : "tenantSync delete");
        }
    }

    private async Task Release(AnswerCheck check, CancellationToken ct)
    {
        if (instanceId is null)
        {
            return;
        }

        check.Answer(await Call(check, "releaseInstance", new { instanceId, testFlag = "1" }, ct).ConfigureAwait(false), "000000", "releaseInstance");
    }

    private async Task Licence(AnswerCheck check, string runId, CancellationToken ct)
    {
        var license = DialTestOrders.License(runId);
        var order = DialTestOrders.OrderId(runId);
        var expire = caller.Now.AddYears(1).ToOffset(TimeSpan.FromHours(8)).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        check.Answer(await Call(check, "refreshLicenseCode", new { license, orderId = order, orderLineId = DialTestOrders.OrderLineId(runId), expireTime = expire, scene = "RENEWAL", testFlag = "1" }, ct).ConfigureAwait(false), "000000", "refreshLicenseCode");
        check.Answer(await Call(check, "updateLicenseCodeStatus", new { license, status = "FREEZE", testFlag = "1" }, ct).ConfigureAwait(false), "000000", "updateLicenseCodeStatus FREEZE");
        check.Answer(await Call(check, "updateLicenseCodeStatus", new { license, status = "UNFREEZE", testFlag = "1" }, ct).ConfigureAwait(false), "000000", "updateLicenseCodeStatus UNFREEZE");
        check.Answer(await Call(check, "releaseLicenseCode", new { license, orderId = order, testFlag = "1" }, ct).ConfigureAwait(false), "000000", "releaseLicenseCode");
    }
}
