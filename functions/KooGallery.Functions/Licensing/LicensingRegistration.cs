using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Licensing;

/// <summary>Registers licence-code products: the three licence callbacks, activation, the check, notices.</summary>
public static class LicensingRegistration
{
    public static IServiceCollection AddLicensing(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<LicenseOptions, LicenseOptionsValidator>(configuration, LicenseOptions.Section);
        services.AddSingleton<LicenseRepository>();
        services.AddSingleton<LicenseNotifier>();
        services.AddSingleton<LicenseService>();
        services.AddLicenseHandlers();
        return services;
    }
}
