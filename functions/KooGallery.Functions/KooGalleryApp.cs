using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.DialTest;
using KooGallery.Functions.Instances;
using KooGallery.Functions.JointOperation;
using KooGallery.Functions.Licensing;
using KooGallery.Functions.Marketplace;
using KooGallery.Functions.Metering;
using KooGallery.Functions.Operations;
using KooGallery.Functions.Outbound;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Security;
using KooGallery.Functions.Storage;
using Microsoft.ApplicationInsights.Extensibility;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions;

/// <summary>
/// The app's whole registration, shared by <c>Program.cs</c> and the tests that build the real host,
/// so a test resolving the function classes exercises exactly what production starts.
/// </summary>
public static class KooGalleryApp
{
    public static FunctionsApplicationBuilder Configure(FunctionsApplicationBuilder builder)
    {
        builder.ConfigureFunctionsWebApplication();
        builder.Services.AddKooGalleryFunctions(builder.Configuration);
        return builder;
    }

    public static IServiceCollection AddKooGalleryFunctions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddTelemetry();
        services.TryAddSingleton(TimeProvider.System);

        services.AddOptions<UnresolvedReferences>().ValidateOnStart();
        services.AddSingleton<IValidateOptions<UnresolvedReferences>, UnresolvedReferencesValidator>();
        services.AddValidatedOptions<KooGalleryOptions, KooGalleryOptionsValidator>(configuration, KooGalleryOptions.Section);
        services.AddStorage(configuration);
        services.AddCredentials(configuration);
        services.AddCallbacks();
        services.AddOperations(configuration);
        services.AddOutbound(configuration);
        services.AddMarketplace(configuration);
        services.AddProvisioning(configuration);
        services.AddInstances(configuration);
        services.AddMetering(configuration);
        services.AddDialTest(configuration);
        services.AddLicensing(configuration);
        services.AddJointOperation(configuration);
        return services;
    }








    /// <summary>
    /// Application Insights as the worker documents it. WorkerService must stay on 2.x while
    /// Worker.ApplicationInsights is 2.51 (3.x fails at start with a TypeLoadException); the host-building
    /// test catches a mismatch.
    /// </summary>
    private static IServiceCollection AddTelemetry(this IServiceCollection services)
    {
        // Adaptive sampling may drop any single log line, and the alert rules and the workbook count log
        // lines (a FAILED instance, a 000005 answer, UNSENT USAGE). The SDK's default sampler is turned off
        // and one that samples only the high-volume types (dependencies, page views) put in its place.
        services.AddApplicationInsightsTelemetryWorkerService(o => o.EnableAdaptiveSampling = false);
        services.Configure<TelemetryConfiguration>(configuration =>
        {
            var chain = configuration.DefaultTelemetrySink.TelemetryProcessorChainBuilder;
            chain.UseAdaptiveSampling(maxTelemetryItemsPerSecond: 5, excludedTypes: TelemetrySampling.NeverSampled);
            chain.Build();
        });
        services.ConfigureFunctionsApplicationInsights();

        // The storage SDK logs every request at Information: most of all log lines, none worth keeping.
        services.AddLogging(logging => logging.AddFilter(TelemetrySampling.AzureCoreCategory, LogLevel.Warning));

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

/// <summary>What telemetry is spared from sampling, and which noisy category is kept at Warning — shared with the tests.</summary>
public static class TelemetrySampling
{
    /// <summary>Traces (the log lines alerts count), events, exceptions, requests and the dial test's availability results are always sent whole.</summary>
    public const string NeverSampled = "Trace;Event;Exception;Request;Availability";

    public const string AzureCoreCategory = "Azure.Core";
}
