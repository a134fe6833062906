using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KooGallery.Simulator;

/// <summary>The commands that act as KooGallery against a production interface.</summary>
internal static class Commands
{
    public static async Task<int> SendAsync(Flags flags, string? activity, CancellationToken cancellationToken)
    {
        if (activity is null || !TryCaller(flags, out var caller, out var http))
        {
            Console.Error.WriteLine("send needs an activity, --url and --key.");
            return 2;
        }

        using (http)
        {
            var fields = flags.Value("json") is { } json ? JsonNode.Parse(json)!.AsObject() : [];
            foreach (var pair in flags.Values("field"))
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0)
                {
                    Console.Error.WriteLine($"--field takes name=value, not '{pair}'.");
                    return 2;
                }

                fields[pair[..equals]] = pair[(equals + 1)..];
            }

            CallResult result;
            if (flags.Has("kit"))
            {
                result = await caller.SendKitAsync(activity, KooGalleryCaller.Body(activity, fields).Replace($"\"activity\":\"{activity}\",", string.Empty, StringComparison.Ordinal), cancellationToken: cancellationToken);
            }
            else if (flags.Has("v1"))
            {
                result = await caller.SendV1Async(activity, fields.ToDictionary(f => f.Key, f => f.Value?.ToString() ?? string.Empty), cancellationToken);
            }
            else
            {
                result = await caller.SendV2Async(activity, KooGalleryCaller.Body(activity, fields), cancellationToken: cancellationToken);
            }

            Print(result);
            return result.Error is null && result.Status == 200 ? 0 : 1;
        }
    }

    public static async Task<int> ConformanceAsync(Flags flags, CancellationToken cancellationToken)
    {
        if (!TryCaller(flags, out var caller, out var http))
        {
            Console.Error.WriteLine("conformance needs --url and --key.");
            return 2;
        }

        using (http)
        {
            var options = new ConformanceOptions();
            if (flags.Value("max-answer-ms") is { } ms)
            {
                options.MaxAnswerTime = TimeSpan.FromMilliseconds(double.Parse(ms, CultureInfo.InvariantCulture));
            }

            if (flags.Value("provisioning-timeout-s") is { } seconds)
            {
                options.ProvisioningTimeout = TimeSpan.FromSeconds(double.Parse(seconds, CultureInfo.InvariantCulture));
            }

            var report = await new ConformanceSuite(caller, options).RunAsync(cancellationToken);
            Console.WriteLine($"KooGallery conformance against {caller.Url}");
            Console.Write(report.ToTable());
            if (flags.Value("report") is { } path)
            {
                await File.WriteAllTextAsync(path, report.ToJson(), cancellationToken);
                Console.WriteLine($"Report written to {path}");
            }

            return report.Failed == 0 ? 0 : 1;
        }
    }

    public static async Task<int> OrderAsync(Flags flags, CancellationToken cancellationToken)
    {
        if (!TryCaller(flags, out var caller, out var http))
        {
            Console.Error.WriteLine("order needs --url and --key.");
            return 2;
        }

        using (http)
        {
            var orderId = flags.Value("order") ?? "MOCKPERIODYEARNEW";
            var testFlag = flags.Has("real") ? "0" : "1";
            var total = Stopwatch.StartNew();

            var created = await Step(caller, "newInstance", new { businessId = Guid.NewGuid().ToString(), orderId, orderLineId = orderId + "-000001", testFlag }, "000000", cancellationToken);
            if (created?.InstanceId is not { } id)
            {
                return 1;
            }

            var polling = Stopwatch.StartNew();
            CallResult? ready = null;
            while (polling.Elapsed < TimeSpan.FromMinutes(2))
            {
                ready = await caller.CallAsync("queryInstance", new { instanceId = id, testFlag }, cancellationToken);
                if (ready.ResultCode != "000004")
                {
                    break;
                }

                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }

            Console.WriteLine($"queryInstance polled {polling.Elapsed.TotalSeconds:F1} s until ready");
            Print(ready!);
            if (ready!.ResultCode != "000000")
            {
                return 1;
            }

            var expire = DateTimeOffset.UtcNow.AddYears(1).ToOffset(TimeSpan.FromHours(8)).ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            var steps = new (string Activity, object Fields)[]
            {
                ("refreshInstance", new { instanceId = id, orderId = "MOCKMONTYRENEW", orderLineId = "MOCKMONTYRENEW-000001", scene = "RENEWAL", expireTime = expire, testFlag }),
                ("updateInstanceStatus", new { instanceId = id, status = "FREEZE", testFlag }),
                ("updateInstanceStatus", new { instanceId = id, status = "UNFREEZE", testFlag }),
                ("releaseInstance", new { instanceId = id, testFlag }),
            };
            foreach (var (activity, fields) in steps)
            {
                if (await Step(caller, activity, fields, "000000", cancellationToken) is null)
                {
                    return 1;
                }
            }

            Console.WriteLine($"Order {orderId} played through in {total.Elapsed.TotalSeconds:F1} s; instance {id}.");
            return 0;
        }
    }

    private static async Task<CallResult?> Step(KooGalleryCaller caller, string activity, object fields, string expected, CancellationToken cancellationToken)
    {
        var result = await caller.CallAsync(activity, fields, cancellationToken);
        Print(result);
        if (result.ResultCode != expected)
        {
            Console.Error.WriteLine($"{activity} answered {result.ResultCode ?? "(nothing)"}, expected {expected}: stopping.");
            return null;
        }

        return result;
    }

    private static void Print(CallResult r)
    {
        Console.WriteLine($"--> {r.Activity}  {r.RequestUrl}");
        if (r.RequestBody.Length > 0)
        {
            Console.WriteLine($"    {r.RequestBody}");
        }

        if (r.Error is not null && r.Status == 0)
        {
            Console.WriteLine($"<-- {r.Error} after {r.Elapsed.TotalMilliseconds:F0} ms");
            return;
        }

        Console.WriteLine($"<-- HTTP {r.Status} in {r.Elapsed.TotalMilliseconds:F0} ms, Body-Sign {(r.BodySignHeader is null ? "missing" : r.BodySignValid ? "verifies" : "DOES NOT VERIFY")}");
        Console.WriteLine($"    {r.ResponseBody}");
    }

    private static bool TryCaller(Flags flags, out KooGalleryCaller caller, out HttpClient http)
    {
        http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var url = flags.Value("url");
        var key = flags.Value("key");
        if (url is null || key is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            caller = null!;
            http.Dispose();
            return false;
        }

        caller = new KooGalleryCaller(http, uri, key);
        return true;
    }
}
