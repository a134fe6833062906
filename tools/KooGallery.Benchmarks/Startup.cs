using System.Diagnostics;
using System.Globalization;
using System.Text;
using Azure.Data.Tables;
using KooGallery.Functions;
using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.Signing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace KooGallery.Benchmarks;

/// <summary>
/// Start-up: time from process start to the first answered callback, for the app and for a minimal isolated-worker
/// app with one HTTP function (same worker and Application Insights packages, the template's registration, the same
/// storage read), each in a fresh process built through the worker's own host builder, alternating, several rounds.
/// What is not in it: the Functions host itself (its start and the gRPC handshake are the same for both apps and
/// cannot run here), ReadyToRun (the benchmark runs the Release build; the deployed app is ReadyToRun).
/// Usage: dotnet run -c Release --project tools/KooGallery.Benchmarks -- --startup [rounds]
/// </summary>
internal static class Startup
{
    private const string Probe = "--startup-probe";

    public static bool IsProbe(string[] args) => args.Length > 0 && args[0] == Probe;

    /// <summary>In the child: build, start, answer one callback, print the milliseconds since the process started.</summary>
    public static async Task<int> ProbeAsync(string[] args)
    {
        var kind = args[1];
        var connection = args[2];
        var builder = FunctionsApplication.CreateBuilder([]);
        var settings = TestApp.SampleSettings();
        settings["AzureWebJobsStorage"] = connection;
        settings["Storage:CreateAtStart"] = "false"; // as deployed: the Bicep created the tables
        settings["Logging:LogLevel:Default"] = "Warning";
        builder.Configuration.AddInMemoryCollection(settings);
        if (kind == "app")
        {
            KooGalleryApp.Configure(builder);
        }
        else
        {
            // The isolated-worker template: ASP.NET Core integration, Application Insights, one function.
            builder.ConfigureFunctionsWebApplication();
            builder.Services.AddApplicationInsightsTelemetryWorkerService().ConfigureFunctionsApplicationInsights();
            builder.Services.AddSingleton(_ => new TableServiceClient(connection));
        }

        // No Functions host here to connect to: the worker's own channel to it is left out, every other hosted service runs.
        foreach (var channel in builder.Services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Namespace?.StartsWith("Microsoft.Azure.Functions.Worker", StringComparison.Ordinal) == true).ToList())
        {
            builder.Services.Remove(channel);
        }

        using var host = builder.Build();
        await host.StartAsync();
        var body = """{"activity":"queryInstance","instanceId":"kg-startup-probe","testFlag":"1"}""";
        var context = SignedCall.Raw(Encoding.UTF8.GetBytes(body), V2RequestSignature.Sign(TestApp.Key, body, DateTimeOffset.UtcNow).ToQueryString());
        context.RequestServices = host.Services; // as the host's ASP.NET Core integration sets it
        IActionResult result = kind == "app"
            ? await ActivatorUtilities.CreateInstance<ProductionInterface>(host.Services).Run(context.Request, CancellationToken.None)
            : await ActivatorUtilities.CreateInstance<MinimalFunction>(host.Services).Run(context.Request, CancellationToken.None);
        await result.ExecuteResultAsync(new ActionContext(context, new RouteData(), new ActionDescriptor()));
        var elapsed = DateTime.Now - Process.GetCurrentProcess().StartTime;
        if (context.Response.StatusCode != 200 || !context.Response.Headers.ContainsKey(BodySign.HeaderName))
        {
            Console.Error.WriteLine($"{kind}: no signed answer (HTTP {context.Response.StatusCode})");
            return 1;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"elapsed-ms={elapsed.TotalMilliseconds:F0}"));
        await host.StopAsync();
        return 0;
    }

    /// <summary>In the parent: alternate the two apps for <paramref name="rounds"/> rounds and report the medians and their ratio.</summary>
    public static async Task<string> MeasureAsync(int rounds)
    {
        // The tables exist before the first start, as the Bicep makes them exist in Azure.
        await using (var tables = await TestApp.StartAsync(s =>
        {
            foreach (var (name, value) in TestApp.SampleSettings().Where(kv => kv.Key.StartsWith("Storage:", StringComparison.Ordinal)))
            {
                s[name] = value;
            }
        }))
        {
        }

        var connection = (await Azurite.InstanceAsync()).ConnectionString;
        var times = new Dictionary<string, List<double>> { ["app"] = [], ["minimal"] = [] };
        for (var round = 0; round < rounds + 1; round++)
        {
            foreach (var kind in round % 2 == 0 ? new[] { "app", "minimal" } : ["minimal", "app"])
            {
                var ms = await RunProbeAsync(kind, connection);
                if (round > 0)
                {
                    times[kind].Add(ms); // round 0 warms the disk cache for both
                }
            }
        }

        var app = Median(times["app"]);
        var minimal = Median(times["minimal"]);
        return string.Create(CultureInfo.InvariantCulture,
            $"Start-up, process start to the first answered callback ({rounds} rounds each, alternating, medians): the app {app:F0} ms, a minimal isolated-worker app {minimal:F0} ms; ratio {app / minimal:F2} (app: {string.Join(", ", times["app"].Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))}; minimal: {string.Join(", ", times["minimal"].Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))}).");
    }

    private static async Task<double> RunProbeAsync(string kind, string connection)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { typeof(Startup).Assembly.Location, Probe, kind, connection })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var line = (await output).Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("elapsed-ms=", StringComparison.Ordinal));
        return process.ExitCode == 0 && line is not null
            ? double.Parse(line["elapsed-ms=".Length..], CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"the {kind} probe failed: {await errors}");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>The minimal app's one function: read one entity, answer signed JSON.</summary>
    private sealed class MinimalFunction(TableServiceClient tables)
    {
        [Function("Minimal")]
        public async Task<IActionResult> Run([HttpTrigger(AuthorizationLevel.Anonymous, "post")] HttpRequest request, CancellationToken cancellationToken)
        {
            var found = await tables.GetTableClient("KooGalleryInstances").GetEntityIfExistsAsync<TableEntity>("kg-startup-probe", "instance", cancellationToken: cancellationToken);
            var body = Encoding.UTF8.GetBytes(found.HasValue ? """{"resultCode":"000000"}""" : """{"resultCode":"000003"}""");
            request.HttpContext.Response.Headers[BodySign.HeaderName] = BodySign.HeaderValue(TestApp.Key, body);
            return new FileContentResult(body, "application/json");
        }
    }
}
