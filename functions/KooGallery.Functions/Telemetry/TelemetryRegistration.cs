using Microsoft.ApplicationInsights.Extensibility;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KooGallery.Functions.Telemetry;

/// <summary>Application Insights and logging for the whole app: what is sampled, which categories are kept quiet.</summary>
public static class TelemetryRegistration
{
    /// <summary>Traces (the log lines alerts count), events, exceptions, requests and the dial test's availability results are always sent whole.</summary>
    private const string NeverSampled = "Trace;Event;Exception;Request;Availability";

    private const string AzureCoreCategory = "Azure.Core";

    /// <summary>
    /// Application Insights as the worker documents it. WorkerService must stay on 2.x while
    /// Worker.ApplicationInsights is 2.51 (3.x fails at start with a TypeLoadException); the host-building
    /// test catches a mismatch.
    /// </summary>
    public static IServiceCollection AddTelemetry(this IServiceCollection services)
    {
        // Adaptive sampling may drop any single log line, and the alert rules and the workbook count log
        // lines (a FAILED instance, a 000005 answer, UNSENT USAGE). The SDK's default sampler is turned off
        // and one that samples only the high-volume types (dependencies, page views) put in its place.
        services.AddApplicationInsightsTelemetryWorkerService(o => o.EnableAdaptiveSampling = false);
        services.Configure<TelemetryConfiguration>(configuration =>
        {
            var chain = configuration.DefaultTelemetrySink.TelemetryProcessorChainBuilder;
            chain.UseAdaptiveSampling(maxTelemetryItemsPerSecond: 5, excludedTypes: NeverSampled);
            chain.Build();
        });
        services.ConfigureFunctionsApplicationInsights();

        // The storage SDK logs every request at Information: most of all log lines, none worth keeping.
        services.AddLogging(logging => logging.AddFilter(AzureCoreCategory, LogLevel.Warning));

        // The SDK adds a rule that keeps only Warning and above from ILogger; our per-callback Information
        // lines feed the dashboards, so drop that rule and let host.json / Logging settings decide.
        services.Configure<LoggerFilterOptions>(options =>
        {
            var rule = options.Rules.FirstOrDefault(r =>
                r.ProviderName == "Microsoft.Extensions.Logging.ApplicationInsights.ApplicationInsightsLoggerProvider");
            if (rule is not null)
            {
                options.Rules.Remove(rule);
            }
        });
        return services;
    }
}
