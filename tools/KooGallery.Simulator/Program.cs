using KooGallery.Simulator;

// koogallery-sim: a local KooGallery for merchants and CI.
//   serve        the open-API emulator (query order, usage push) on loopback
//   tenant-api   a fake merchant tenant API that checks the webhook signature
//   send         one signed call to a production interface
//   conformance  the debugging cases of §7.3 against a production interface
//   order        one whole order life cycle against a running app
//   dial         the app's dial test (same cases as its timer) against a production address
return await Cli.RunAsync(args);

internal static class Cli
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        var command = args[0];
        // `send <activity> --flags`: the activity is the one positional argument.
        var flags = Flags.Parse(command == "send" && args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[2..] : args[1..]);
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };

        try
        {
            switch (command)
            {
                case "serve":
                    await using (var emulator = await OpenApiEmulator.StartAsync(new OpenApiEmulatorOptions
                    {
                        Urls = flags.Value("urls") ?? "http://127.0.0.1:8090",
                        AccessKey = flags.Value("ak") ?? "emulator-access-key",
                        SecretKey = flags.Value("sk") ?? "emulator-secret-key-change-me",
                        UsagePushKeys = flags.Values("key") is { Count: > 0 } keys ? keys : ["local-development-key-change-me"],
                        Strict = flags.Has("strict"),
                        Quiet = !flags.Has("verbose"),
                    }, stop.Token))
                    {
                        Console.WriteLine($"KooGallery open-API emulator listening on {emulator.BaseUrl} (strict: {flags.Has("strict")}). Ctrl+C stops it.");
                        await emulator.WaitForShutdownAsync(stop.Token);
                    }

                    return 0;
                case "tenant-api":
                    var secret = flags.Value("secret") ?? "local-tenant-webhook-secret-change-me-0123456789";
                    await using (var api = await FakeTenantApi.StartAsync(secret, flags.Value("urls") ?? "http://127.0.0.1:8091", quiet: !flags.Has("verbose"), stop.Token))
                    {
                        Console.WriteLine($"Fake tenant API listening on {api.BaseUrl}. Ctrl+C stops it.");
                        await api.WaitForShutdownAsync(stop.Token);
                    }

                    return 0;
                case "idp":
                    await using (var idp = await IdentityProvider.LaunchAsync(flags.Value("urls") ?? "http://127.0.0.1:8092", quiet: !flags.Has("verbose"), stop.Token))
                    {
                        foreach (var client in flags.Values("client"))
                        {
                            var at = client.IndexOf('=', StringComparison.Ordinal);
                            idp.AddClient(at > 0 ? client[..at] : client, at > 0 ? client[(at + 1)..] : string.Empty);
                        }

                        if (flags.Value("user") is { } user)
                        {
                            idp.User = new IdpUser(user, user, $"{user}@example.com");
                        }

                        Console.WriteLine($"Identity provider (OneAccess-style) on {idp.BaseUrl}: use it as the tenant's domainName in tenantSync. Ctrl+C stops it.");
                        await idp.WaitForShutdownAsync(stop.Token);
                    }

                    return 0;
                case "send":
                    return await Commands.SendAsync(flags, args.Length > 1 && !args[1].StartsWith("--", StringComparison.Ordinal) ? args[1] : null, stop.Token);
                case "conformance":
                    return await Commands.ConformanceAsync(flags, stop.Token);
                case "order":
                    return await Commands.OrderAsync(flags, stop.Token);
                case "dial":
                    return await Commands.DialAsync(flags, stop.Token);
                default:
                    Console.Error.WriteLine($"Unknown command '{command}'.\n{Usage}");
                    return 2;
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return 0;
        }
    }

    private const string Usage = """
        koogallery-sim <command> [options]

        serve        KooGallery's open API on loopback: query order (mock orders MOCK…, orders posted to
                     /_emulator/orders, else a synthesised monthly order), usage push (recorded, see
                     GET /_emulator/usage). Verifies the APIG AK/SK signature and the usage-push signature.
                       --urls http://127.0.0.1:8090   --ak AK   --sk SK   --key KEY (repeatable)   --strict   --verbose
                     Faults: POST /_emulator/faults {"kind":"ServerError|TooManyRequests|Slow|DropConnection|RecordThenDrop|BusinessError|Malformed","times":2}
        tenant-api   A fake merchant tenant API for Provisioning__Mode=Webhook; checks X-KooGallery-Signature.
                       --urls http://127.0.0.1:8091   --secret SECRET   --verbose
        idp          A OneAccess-style identity provider for joint-operation sign-on: authorize page with a test
                     user, token (single-use codes, PKCE), userinfo.
                       --urls http://127.0.0.1:8092   --client CLIENTID=SECRET (repeatable)   --user alice
        send <activity>
                     One correctly signed call; prints request, answer and whether Body-Sign verifies.
                       --url URL --key KEY  [--field name=value ...] [--json '{"name":"value"}']
                       [--kit] (a kit sync: POST {url}/produceAPI/v2/<activity> with x-sign headers; --kit-key KEY
                       when the kit Key differs from the basic one)
                       [--v1]  (a retired V1 GET with authToken)
        conformance  §7.3's cases with §7.2's checks (JSON, resultCode, fields, Body-Sign, < 5 s); testFlag=1
                     and mock orders only, safe against production. Exit code 1 on any failure.
                       --url URL --key KEY  [--kit-key KEY] [--report report.json] [--max-answer-ms 5000] [--provisioning-timeout-s 120]
        dial         The app's dial test by hand (the cases its timer plays): a DIALTEST-… debug order created,
                     polled until ready, renewed, frozen, unfrozen, upgraded, released; each answer held to the
                     debug tool's checks and the 5 s budget. Exit code 1 on any failure.
                       --url URL --key KEY  [--kit-key KEY] [--other-key KEY (repeatable: Keys #1, #2 …)]
                       [--no-upgrade] [--licence] [--tenant-sync] [--max-answer-ms 5000] [--ready-timeout-s 60]
        order        One order's life: new -> poll until ready -> renew -> freeze -> unfreeze -> release.
                       --url URL --key KEY  [--order MOCKPERIODYEARNEW] [--real] (testFlag=0)
        """;
}

/// <summary>Minimal <c>--name value</c> / <c>--flag</c> parsing.</summary>
internal sealed class Flags
{
    private readonly List<KeyValuePair<string, string?>> pairs = [];

    public static Flags Parse(string[] args)
    {
        var flags = new Flags();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Unexpected argument '{args[i]}'.");
            }

            var name = args[i][2..];
            string? value = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
            flags.pairs.Add(new(name, value));
        }

        return flags;
    }

    public bool Has(string name) => pairs.Any(p => p.Key == name);

    public string? Value(string name) => pairs.LastOrDefault(p => p.Key == name).Value;

    public List<string> Values(string name) => pairs.Where(p => p.Key == name && p.Value is not null).Select(p => p.Value!).ToList();
}
