using System.Globalization;
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
            return ExitCode(result);
        }
    }

    /// <summary>0 only when the endpoint answered as a working one does (<see cref="CallResult.Verified"/>).</summary>
    private static int ExitCode(CallResult result) => result.Verified ? 0 : 1;

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

    /// <summary>
    /// The app's dial test by hand (<see cref="KooGallery.Protocol.DialTest.DialTestRun"/>, the same cases the
    /// timer plays): a <c>DIALTEST-…</c> debug order through its whole life, released at the end.
    /// </summary>
    public static async Task<int> DialAsync(Flags flags, CancellationToken cancellationToken)
    {
        if (!TryCaller(flags, out var caller, out var http))
        {
            Console.Error.WriteLine("dial needs --url and --key.");
            return 2;
        }

        using (http)
        {
            var plan = new KooGallery.Protocol.DialTest.DialTestPlan
            {
                Upgrade = !flags.Has("no-upgrade"),
                Licence = flags.Has("licence"),
                TenantSync = flags.Has("tenant-sync"),
                AnswerBudget = TimeSpan.FromMilliseconds(double.Parse(flags.Value("max-answer-ms") ?? "5000", CultureInfo.InvariantCulture)),
                ReadyTimeout = TimeSpan.FromSeconds(double.Parse(flags.Value("ready-timeout-s") ?? "60", CultureInfo.InvariantCulture)),
            };
            var others = flags.Values("other-key")
                .Select((key, i) => (Index: i + 1, Caller: new KooGalleryCaller(http, caller.Url, key, kitKey: caller.KitKey)))
                .ToDictionary(k => k.Index, k => k.Caller);
            var run = KooGallery.Protocol.DialTest.DialTestOrders.NewRunId(caller.Now);
            var report = await new KooGallery.Protocol.DialTest.DialTestRun(caller, plan, others).RunAsync(run, cancellationToken);
            Console.Write(report.ToTable());
            return report.Passed ? 0 : 1;
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
            var played = await OrderPlay.RunAsync(caller, flags.Value("order") ?? "MOCKPERIODYEARNEW", real: flags.Has("real"), Console.Out, TimeSpan.FromSeconds(1), cancellationToken);
            return played ? 0 : 1;
        }
    }

    private static void Print(CallResult r) => OrderPlay.Print(r, Console.Out);

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

        caller = new KooGalleryCaller(http, uri, key, kitKey: flags.Value("kit-key"));
        return true;
    }
}
