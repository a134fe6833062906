using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KooGallery.Protocol.Signing;

namespace KooGallery.Simulator;

public sealed class ConformanceOptions
{
    /// <summary>KooGallery's client timeout: a slower answer is a failure (§2.5).</summary>
    public TimeSpan MaxAnswerTime { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long queryInstance may answer 000004 before the instance counts as never ready.</summary>
    public TimeSpan ProvisioningTimeout { get; set; } = TimeSpan.FromMinutes(2);

    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
}

public sealed record CaseResult(string Number, string Name, bool Passed, IReadOnlyList<string> Failures, TimeSpan Elapsed, int Calls);

public sealed record ConformanceReport(string Url, DateTimeOffset StartedAt, IReadOnlyList<CaseResult> Cases)
{
    public int Passed => Cases.Count(c => c.Passed);

    public int Failed => Cases.Count(c => !c.Passed);

    public string ToJson() => JsonSerializer.Serialize(new
    {
        url = Url,
        startedAt = StartedAt,
        passed = Passed,
        failed = Failed,
        cases = Cases.Select(c => new { number = c.Number, name = c.Name, passed = c.Passed, failures = c.Failures, elapsedMs = Math.Round(c.Elapsed.TotalMilliseconds, 1), calls = c.Calls }),
    }, Indented);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public string ToTable()
    {
        var builder = new StringBuilder();
        builder.AppendLine(CultureInfo.InvariantCulture, $"{"#",-4} {"case",-58} {"result",-6} {"ms",8}  reason");
        foreach (var c in Cases)
        {
            builder.AppendLine(CultureInfo.InvariantCulture, $"{c.Number,-4} {Cut(c.Name, 58),-58} {(c.Passed ? "pass" : "FAIL"),-6} {c.Elapsed.TotalMilliseconds,8:F0}  {string.Join("; ", c.Failures)}");
        }

        // Worded so it cannot be mistaken for a test runner's "N passed, M failed" summary line.
        builder.AppendLine(CultureInfo.InvariantCulture, $"Conformance: {Passed} of {Cases.Count} cases passed ({Failed} failing).");
        return builder.ToString();
    }

    private static string Cut(string s, int n) => s.Length <= n ? s : s[..(n - 1)] + "…";
}

/// <summary>
/// The seller console's "application access debugging" (§7.2) as a suite: every case of §7.3,
/// each answer checked for what KooGallery's tool checks — JSON, <c>resultCode</c>, mandatory fields and
/// their lengths, a valid <c>Body-Sign</c>, an answer within 5 s. Uses <c>testFlag=1</c> and the mock order
/// ids only, so it is safe against production.
/// </summary>
public sealed class ConformanceSuite(KooGalleryCaller caller, ConformanceOptions? options = null)
{
    private readonly ConformanceOptions options = options ?? new ConformanceOptions();
    private readonly List<CaseResult> results = [];
    private string? mainId;
    private string? oneTimeId;
    private string? trialId;

    public async Task<ConformanceReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var started = caller.Now;
        await Case("1", "newInstance, yearly mock order, fresh businessId", Case01, cancellationToken).ConfigureAwait(false);
        await Case("2", "newInstance again, new businessId: same instanceId", Case02, cancellationToken).ConfigureAwait(false);
        await Case("3", "newInstance one-time, on-demand (per product), package, trial", Case03, cancellationToken).ConfigureAwait(false);
        await Case("4", "queryInstance 1 and 3 ids with appInfo; 101 ids refused", Case04, cancellationToken).ConfigureAwait(false);
        await Case("5", "refreshInstance TRIAL_TO_FORMAL, RENEWAL, UNSUBSCRIBE_RENEWAL_PERIOD", Case05, cancellationToken).ConfigureAwait(false);
        await Case("6", "updateInstanceStatus FREEZE, UNFREEZE, FREEZE twice", Case06, cancellationToken).ConfigureAwait(false);
        await Case("8", "upgradeInstance with the change mock order, replayed", Case08, cancellationToken).ConfigureAwait(false);
        await Case("9", "changeInstanceCheck: upgrade allowed, downgrade refused", Case09, cancellationToken).ConfigureAwait(false);
        await Case("7", "releaseInstance twice; unknown instance 000003", Case07, cancellationToken).ConfigureAwait(false);
        await Case("10", "tampered, wrong key, stale, no nonce, replayed nonce refused", Case10, cancellationToken).ConfigureAwait(false);
        await Case("10b", "exact resend within the window: same answer", Case10b, cancellationToken).ConfigureAwait(false);
        await Case("11", "unknown activity 000002", Case11, cancellationToken).ConfigureAwait(false);
        await Case("14", "licence callbacks: refresh, repeat, freeze, unfreeze, release twice, bad field", Case14, cancellationToken).ConfigureAwait(false);
        await Case("15", "kit syncs: tenant, users, organisation tree, repeat, undecryptable secret, bad x-sign", Case15, cancellationToken).ConfigureAwait(false);
        return new ConformanceReport(caller.Url.ToString(), started, results.OrderBy(r => Order(r.Number)).ToList());
    }

    private static double Order(string number) => double.Parse(number.TrimEnd('b'), CultureInfo.InvariantCulture) + (number.EndsWith('b') ? 0.5 : 0);

    private async Task Case(string number, string name, Func<AnswerCheck, CancellationToken, Task> body, CancellationToken cancellationToken)
    {
        var check = new AnswerCheck(options.MaxAnswerTime);
        var watch = Stopwatch.StartNew();
        try
        {
            await body(check, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            check.Fail($"{ex.GetType().Name}: {ex.Message}");
        }

        results.Add(new CaseResult(number, name, check.Failures.Count == 0, check.Failures, watch.Elapsed, check.Calls));
    }

    private Task<CallResult> Call(AnswerCheck check, string activity, object fields, CancellationToken ct)
    {
        check.Calls++;
        return caller.CallAsync(activity, fields, ct);
    }

    private async Task<string?> NewInstance(AnswerCheck check, string orderId, string? productId, CancellationToken ct)
    {
        var fields = new Dictionary<string, string> { ["businessId"] = Guid.NewGuid().ToString(), ["orderId"] = orderId, ["orderLineId"] = orderId + "-000001", ["testFlag"] = "1" };
        if (productId is not null)
        {
            fields["productId"] = productId;
        }

        var reply = await Call(check, "newInstance", fields, ct).ConfigureAwait(false);
        if (!check.Answer(reply, "000000", $"newInstance {orderId}"))
        {
            return null;
        }

        var id = reply.InstanceId;
        if (string.IsNullOrEmpty(id) || id.Length > 64)
        {
            check.Fail($"newInstance {orderId}: instanceId missing or longer than 64 characters");
            return null;
        }

        return id;
    }

    private async Task Case01(AnswerCheck check, CancellationToken ct) => mainId = await NewInstance(check, "MOCKPERIODYEARNEW", null, ct).ConfigureAwait(false);

    private async Task Case02(AnswerCheck check, CancellationToken ct)
    {
        var again = await NewInstance(check, "MOCKPERIODYEARNEW", null, ct).ConfigureAwait(false);
        if (mainId is null)
        {
            check.Fail("depends on case 1");
        }
        else if (again is not null && again != mainId)
        {
            check.Fail($"a repeated newInstance answered {again}, the first {mainId}");
        }
    }

    private async Task Case03(AnswerCheck check, CancellationToken ct)
    {
        oneTimeId = await NewInstance(check, "MOCKONETIMENEW", null, ct).ConfigureAwait(false);
        await NewInstance(check, "MOCKONDEMANDPKG", null, ct).ConfigureAwait(false);
        trialId = await NewInstance(check, "MOCKPERIODDAYTRIAL", null, ct).ConfigureAwait(false);
        var a = await NewInstance(check, "MOCKONDEMAND", "MOCK-BILLING-ITEM-A", ct).ConfigureAwait(false);
        var b = await NewInstance(check, "MOCKONDEMAND", "MOCK-BILLING-ITEM-B", ct).ConfigureAwait(false);
        if (a is not null && a == b)
        {
            check.Fail("two pay-per-use billing items of one order got one instance");
        }
    }

    private async Task Case04(AnswerCheck check, CancellationToken ct)
    {
        if (mainId is null || oneTimeId is null || trialId is null)
        {
            check.Fail("depends on cases 1 and 3");
            return;
        }

        await PollReady(check, [mainId], ct).ConfigureAwait(false);
        await PollReady(check, [mainId, oneTimeId, trialId], ct).ConfigureAwait(false);
        var many = await Call(check, "queryInstance", new { instanceId = string.Join(',', Enumerable.Range(0, 101).Select(i => $"conformance-{i}")), testFlag = "1" }, ct).ConfigureAwait(false);
        check.Answer(many, "000002", "queryInstance with 101 ids");
    }

    private async Task PollReady(AnswerCheck check, string[] ids, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            var reply = await Call(check, "queryInstance", new { instanceId = string.Join(',', ids), testFlag = "1" }, ct).ConfigureAwait(false);
            if (reply.ResultCode == "000004" && deadline.Elapsed < options.ProvisioningTimeout)
            {
                check.Answer(reply, "000004", "queryInstance while provisioning");
                await Task.Delay(options.PollInterval, ct).ConfigureAwait(false);
                continue;
            }

            if (!check.Answer(reply, "000000", $"queryInstance of {ids.Length} id(s)"))
            {
                return;
            }

            var info = reply.Json?["info"] as JsonArray;
            foreach (var id in ids)
            {
                var item = info?.FirstOrDefault(i => i?["instanceId"]?.GetValue<string>() == id);
                var url = item?["appInfo"]?["frontEndUrl"]?.GetValue<string>();
                if (string.IsNullOrEmpty(url) || url.Length > 512)
                {
                    check.Fail($"queryInstance: no info[].appInfo.frontEndUrl (≤ 512 characters) for {id}");
                }
            }

            return;
        }
    }

    private async Task Case05(AnswerCheck check, CancellationToken ct)
    {
        if (mainId is null)
        {
            check.Fail("depends on case 1");
            return;
        }

        foreach (var (scene, order) in new[] { ("TRIAL_TO_FORMAL", "MOCKMONTYTRIALTOFORMAL"), ("RENEWAL", "MOCKMONTYRENEW"), ("UNSUBSCRIBE_RENEWAL_PERIOD", "MOCKMONTYUNSUBSCRIBE") })
        {
            var expire = caller.Now.AddYears(1).ToOffset(TimeSpan.FromHours(8)).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            var reply = await Call(check, "refreshInstance", new { instanceId = mainId, orderId = order, orderLineId = order + "-000001", scene, expireTime = expire, testFlag = "1" }, ct).ConfigureAwait(false);
            check.Answer(reply, "000000", $"refreshInstance {scene}");
        }
    }

    private async Task Case06(AnswerCheck check, CancellationToken ct)
    {
        if (mainId is null)
        {
            check.Fail("depends on case 1");
            return;
        }

        foreach (var status in new[] { "FREEZE", "UNFREEZE", "FREEZE", "FREEZE", "UNFREEZE" })
        {
            var reply = await Call(check, "updateInstanceStatus", new { instanceId = mainId, status, testFlag = "1" }, ct).ConfigureAwait(false);
            check.Answer(reply, "000000", $"updateInstanceStatus {status}");
        }
    }

    private async Task Case08(AnswerCheck check, CancellationToken ct)
    {
        if (mainId is null)
        {
            check.Fail("depends on case 1");
            return;
        }

        for (var i = 0; i < 2; i++)
        {
            var reply = await Call(check, "upgradeInstance", new { instanceId = mainId, orderId = "MOCKMONTYCHANGE", orderLineId = "MOCKMONTYCHANGE-000001", testFlag = "1" }, ct).ConfigureAwait(false);
            check.Answer(reply, "000000", i == 0 ? "upgradeInstance" : "upgradeInstance replayed");
        }
    }

    private async Task Case09(AnswerCheck check, CancellationToken ct)
    {
        if (mainId is null)
        {
            check.Fail("depends on case 1");
            return;
        }

        var up = await Call(check, "changeInstanceCheck", new { instanceId = mainId, productInfo = new { productId = "MOCK-LARGER", skuCode = "mock", linearValue = 1000 }, testFlag = "1" }, ct).ConfigureAwait(false);
        check.Answer(up, "000000", "changeInstanceCheck to a larger spec");
        var down = await Call(check, "changeInstanceCheck", new { instanceId = mainId, productInfo = new { productId = "MOCK-SMALLER", skuCode = "mock", linearValue = 1 }, testFlag = "1" }, ct).ConfigureAwait(false);
        if (check.WellFormed(down, "changeInstanceCheck to a smaller spec") && down.ResultCode == "000000")
        {
            check.Fail("changeInstanceCheck to a smaller spec than in use was allowed (expected a refusal)");
        }
    }

    private async Task Case07(AnswerCheck check, CancellationToken ct)
    {
        if (mainId is null)
        {
            check.Fail("depends on case 1");
            return;
        }

        for (var i = 0; i < 2; i++)
        {
            var reply = await Call(check, "releaseInstance", new { instanceId = mainId, testFlag = "1" }, ct).ConfigureAwait(false);
            check.Answer(reply, "000000", i == 0 ? "releaseInstance" : "releaseInstance repeated");
        }

        var unknown = await Call(check, "releaseInstance", new { instanceId = "conformance-unknown-" + Guid.NewGuid().ToString("N")[..8], testFlag = "1" }, ct).ConfigureAwait(false);
        check.Answer(unknown, "000003", "releaseInstance of an unknown instance");
    }

    private static string QueryBody(string id) => KooGalleryCaller.Body("queryInstance", new JsonObject { ["instanceId"] = id, ["testFlag"] = "1" });

    private async Task Case10(AnswerCheck check, CancellationToken ct)
    {
        var id = oneTimeId ?? "conformance-probe";
        var body = QueryBody(id);
        check.Calls += 6;
        var tampered = await caller.SendV2Async("queryInstance", body, sendBodyInstead: QueryBody(id + "x"), cancellationToken: ct).ConfigureAwait(false);
        check.Answer(tampered, "000001", "tampered body");
        var wrongKey = await caller.SendV2Async("queryInstance", body, signWithKey: caller.Key + "-wrong", cancellationToken: ct).ConfigureAwait(false);
        check.Answer(wrongKey, "000001", "wrong key");
        var stale = await caller.SendV2Async("queryInstance", body, signedAt: caller.Now.AddSeconds(-61), cancellationToken: ct).ConfigureAwait(false);
        check.Answer(stale, "000002", "timestamp 61 s old");
        var noNonce = await caller.SendV2Async("queryInstance", body, omitNonce: true, cancellationToken: ct).ConfigureAwait(false);
        check.Answer(noNonce, "000002", "missing nonce");
        var nonce = Nonce.New();
        var first = await caller.SendV2Async("queryInstance", body, nonce: nonce, cancellationToken: ct).ConfigureAwait(false);
        check.WellFormed(first, "first use of a nonce");
        var replay = await caller.SendV2Async("queryInstance", QueryBody(id + "-other"), nonce: nonce, cancellationToken: ct).ConfigureAwait(false);
        check.Answer(replay, "000001", "nonce replayed with another body");
    }

    private async Task Case10b(AnswerCheck check, CancellationToken ct)
    {
        var body = QueryBody(oneTimeId ?? "conformance-probe");
        var nonce = Nonce.New();
        var at = caller.Now;
        check.Calls += 2;
        var first = await caller.SendV2Async("queryInstance", body, signedAt: at, nonce: nonce, cancellationToken: ct).ConfigureAwait(false);
        var resend = await caller.SendV2Async("queryInstance", body, signedAt: at, nonce: nonce, cancellationToken: ct).ConfigureAwait(false);
        if (check.WellFormed(first, "first call") && check.WellFormed(resend, "resend") && first.ResponseBody != resend.ResponseBody)
        {
            check.Fail($"the resend was answered {resend.ResultCode}, the first call {first.ResultCode}");
        }
    }

    private async Task Case11(AnswerCheck check, CancellationToken ct)
    {
        var reply = await Call(check, "conformanceUnknownActivity", new { testFlag = "1" }, ct).ConfigureAwait(false);
        check.Answer(reply, "000002", "unknown activity");
    }

    /// <summary>
    /// Licence-code 2.0 (§5.11) on a fresh mock licence code: every change answers 000000, the same renewal
    /// again and a second release too, an impossible unfreeze of the released licence and a bad field 000002.
    /// </summary>
    private async Task Case14(AnswerCheck check, CancellationToken ct)
    {
        var license = "PLMOCKCONF" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();
        var renewal = new { license, orderId = "MOCKMONTYRENEW", orderLineId = "MOCKMONTYRENEW-000001", expireTime = caller.Now.AddYears(1).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture), scene = "RENEWAL", testFlag = "1" };
        check.Answer(await Call(check, "refreshLicenseCode", renewal, ct).ConfigureAwait(false), "000000", "refreshLicenseCode");
        check.Answer(await Call(check, "refreshLicenseCode", renewal, ct).ConfigureAwait(false), "000000", "refreshLicenseCode repeated");
        check.Answer(await Call(check, "updateLicenseCodeStatus", new { license, status = "FREEZE", testFlag = "1" }, ct).ConfigureAwait(false), "000000", "updateLicenseCodeStatus FREEZE");
        check.Answer(await Call(check, "updateLicenseCodeStatus", new { license, status = "UNFREEZE", testFlag = "1" }, ct).ConfigureAwait(false), "000000", "updateLicenseCodeStatus UNFREEZE");
        check.Answer(await Call(check, "releaseLicenseCode", new { license, testFlag = "1" }, ct).ConfigureAwait(false), "000000", "releaseLicenseCode");
        check.Answer(await Call(check, "releaseLicenseCode", new { license, testFlag = "1" }, ct).ConfigureAwait(false), "000000", "releaseLicenseCode repeated");
        check.Answer(await Call(check, "updateLicenseCodeStatus", new { license, status = "UNFREEZE", testFlag = "1" }, ct).ConfigureAwait(false), "000002", "unfreezing a released licence");
        check.Answer(await Call(check, "refreshLicenseCode", new { license, orderId = "O", orderLineId = "L", expireTime = "soon", scene = "RENEWAL", testFlag = "1" }, ct).ConfigureAwait(false), "000002", "refreshLicenseCode with a bad expireTime");
    }

    /// <summary>
    /// The joint-operation kit syncs (§3.2, §5.10) on a fresh debug tenant: each answers 000000 and again
    /// when repeated, a client secret nobody can decrypt 000101, a wrong <c>x-sign</c> 000001.
    /// </summary>
    private async Task Case15(AnswerCheck check, CancellationToken ct)
    {
        var tenant = "conformance-" + Guid.NewGuid().ToString("N")[..12];
        var sync = async (string name, string body) =>
        {
            check.Calls++;
            return await caller.SendKitAsync(name, body, cancellationToken: ct).ConfigureAwait(false);
        };
        var tenantSync = $$"""{"domainName":"https://idp.example.com","flag":1,"instanceId":"{{mainId}}","name":"Conformance","orderId":"MOCKPERIODYEARNEW","tenantCode":"{{tenant}}","tenantId":"{{tenant}}","testFlag":1,"timeStamp":"{{caller.Now.ToOffset(TimeSpan.FromHours(8)):yyyyMMddHHmmssfff}}"}""";
        check.Answer(await sync("tenantSync", tenantSync).ConfigureAwait(false), "000000", "tenantSync");
        check.Answer(await sync("tenantSync", tenantSync).ConfigureAwait(false), "000000", "tenantSync repeated");
        var auth = $$"""{"flag":1,"instanceId":"{{mainId}}","tenantId":"{{tenant}}","testFlag":1,"userName":"conformance-user"}""";
        check.Answer(await sync("authSync", auth).ConfigureAwait(false), "000000", "authSync");
        check.Answer(await sync("authSync", auth).ConfigureAwait(false), "000000", "authSync repeated");
        check.Answer(await sync("allOrgSync", $$"""{"instanceId":"{{mainId}}","orgList":[{"orgCode":"root","orgName":"HQ"}],"tenantId":"{{tenant}}","testFlag":1}""").ConfigureAwait(false), "000000", "allOrgSync");
        check.Answer(await sync("singleOrgSync", $$"""{"flag":1,"instanceId":"{{mainId}}","orgCode":"ops","parentCode":"root","tenantId":"{{tenant}}","testFlag":1}""").ConfigureAwait(false), "000000", "singleOrgSync");
        check.Answer(await sync("applicationSync", $$"""{"clientId":"conformance","clientSecret":"bm90IGVuY3J5cHRlZA==","flag":1,"tenantId":"{{tenant}}","testFlag":1}""").ConfigureAwait(false), "000101", "applicationSync with a secret nobody can decrypt");
        check.Calls++;
        var forged = await caller.SendKitAsync("tenantSync", tenantSync, kitKey: "not-the-kit-key", cancellationToken: ct).ConfigureAwait(false);
        if (check.WellFormed(forged, "tenantSync with a wrong x-sign") && forged.ResultCode != "000001")
        {
            check.Fail($"tenantSync with a wrong x-sign answered {forged.ResultCode}, expected 000001");
        }
    }
}
