using System.Diagnostics;
using System.Globalization;

namespace KooGallery.Simulator;

/// <summary>
/// One order's whole life against a production interface, as KooGallery would drive it: newInstance → poll
/// queryInstance until ready → renew → freeze → unfreeze → release, each step printed with its time.
/// </summary>
public static class OrderPlay
{
    public static async Task<bool> RunAsync(KooGalleryCaller caller, string orderId, bool real, TextWriter output, TimeSpan pollInterval, CancellationToken cancellationToken = default)
    {
        var testFlag = real ? "0" : "1";
        var total = Stopwatch.StartNew();

        var created = await Step(caller, output, "newInstance", new { businessId = Guid.NewGuid().ToString(), orderId, orderLineId = orderId + "-000001", testFlag }, cancellationToken).ConfigureAwait(false);
        if (created?.InstanceId is not { } id)
        {
            return false;
        }

        var polling = Stopwatch.StartNew();
        CallResult ready;
        while (true)
        {
            ready = await caller.CallAsync("queryInstance", new { instanceId = id, testFlag }, cancellationToken).ConfigureAwait(false);
            if (ready.ResultCode != "000004" || polling.Elapsed > TimeSpan.FromMinutes(2))
            {
                break;
            }

            await Task.Delay(pollInterval, cancellationToken).ConfigureAwait(false);
        }

        await output.WriteLineAsync($"queryInstance polled {polling.Elapsed.TotalSeconds:F1} s until ready").ConfigureAwait(false);
        Print(ready, output);
        if (ready.ResultCode != "000000")
        {
            await output.WriteLineAsync($"queryInstance answered {ready.ResultCode ?? "(nothing)"}: stopping.").ConfigureAwait(false);
            return false;
        }

        var expire = caller.Now.AddYears(1).ToOffset(TimeSpan.FromHours(8)).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var steps = new (string Activity, object Fields)[]
        {
            ("refreshInstance", new { instanceId = id, orderId = "MOCKMONTYRENEW", orderLineId = "MOCKMONTYRENEW-000001", scene = "RENEWAL", expireTime = expire, testFlag }),
            ("updateInstanceStatus", new { instanceId = id, status = "FREEZE", testFlag }),
            ("updateInstanceStatus", new { instanceId = id, status = "UNFREEZE", testFlag }),
            ("releaseInstance", new { instanceId = id, testFlag }),
        };
        foreach (var (activity, fields) in steps)
        {
            if (await Step(caller, output, activity, fields, cancellationToken).ConfigureAwait(false) is null)
            {
                return false;
            }
        }

        await output.WriteLineAsync($"Order {orderId} played through in {total.Elapsed.TotalSeconds:F1} s; instance {id}.").ConfigureAwait(false);
        return true;
    }

    public static void Print(CallResult r, TextWriter output)
    {
        output.WriteLine($"--> {r.Activity}  {r.RequestUrl}");
        if (r.RequestBody.Length > 0)
        {
            output.WriteLine($"    {r.RequestBody}");
        }

        if (r.Error is not null && r.Status == 0)
        {
            output.WriteLine($"<-- {r.Error} after {r.Elapsed.TotalMilliseconds:F0} ms");
            return;
        }

        output.WriteLine($"<-- HTTP {r.Status} in {r.Elapsed.TotalMilliseconds:F0} ms, Body-Sign {(r.BodySignHeader is null ? "missing" : r.BodySignValid ? "verifies" : "DOES NOT VERIFY")}");
        output.WriteLine($"    {r.ResponseBody}");
    }

    private static async Task<CallResult?> Step(KooGalleryCaller caller, TextWriter output, string activity, object fields, CancellationToken cancellationToken)
    {
        var result = await caller.CallAsync(activity, fields, cancellationToken).ConfigureAwait(false);
        Print(result, output);
        if (result.ResultCode != "000000")
        {
            await output.WriteLineAsync($"{activity} answered {result.ResultCode ?? "(nothing)"}, expected 000000: stopping.").ConfigureAwait(false);
            return null;
        }

        return result;
    }
}
