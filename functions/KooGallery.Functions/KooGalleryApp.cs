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
using KooGallery.Functions.Telemetry;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.DependencyInjection;

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

        services.AddKooGalleryOptions(configuration);
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
}
