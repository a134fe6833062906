using KooGallery.Functions.Callbacks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Licensing;

/// <summary>Registers licence-code products: the three licence callbacks, activation, the check, notices.</summary>
public static class LicensingRegistration
{
    public static IServiceCollection AddLicensing(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<LicenseOptions>().Bind(configuration.GetSection(LicenseOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<LicenseOptions>, LicenseOptionsValidator>();
        services.AddSingleton<LicenseRepository>();
        services.AddSingleton<LicenseNotifier>();
        services.AddSingleton<LicenseService>();
        services.AddLicenseHandlers();
        return services;
    }
}
