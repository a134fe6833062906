using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>Registers pay-per-use metering: intake, the usage store, the push, parking, re-drives and retention.</summary>
public static class MeteringRegistration
{
    public static IServiceCollection AddMetering(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<MeteringOptions, MeteringOptionsValidator>(configuration, MeteringOptions.Section);
        services.AddSingleton<UsageStore>();
        services.AddSingleton<UsageIntake>();
        services.AddSingleton<UsagePushJob>();
        services.AddSingleton<UsageParking>();
        services.AddSingleton<RejectedUsageRedrive>();
        services.AddSingleton<Retention>();
        return services;
    }
}
