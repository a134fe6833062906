using KooGallery.Functions.Configuration;
using KooGallery.Functions.Outbound;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Marketplace;

/// <summary>Registers KooGallery's open-API client: APIG signing, resilience, host fail-over.</summary>
public static class MarketplaceRegistration
{
    public static IServiceCollection AddMarketplace(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<MarketplaceOptions, MarketplaceOptionsValidator>(configuration, MarketplaceOptions.Section);
        services.AddTransient<ApigSigningHandler>();
        services.AddSingleton<KooGalleryOpenApi>();
        services.AddHttpClient(KooGalleryOpenApi.ClientName, (sp, http) => http.BaseAddress = sp.GetRequiredService<IOptionsMonitor<MarketplaceOptions>>().CurrentValue.PrimaryBase)
            .AddResilience(nameof(KooGalleryOpenApi))
            .AddHttpMessageHandler(sp => new HostFailoverHandler(
                () => sp.GetRequiredService<IOptionsMonitor<MarketplaceOptions>>().CurrentValue.FallbackBase,
                sp.GetRequiredService<ILoggerFactory>().CreateLogger<HostFailoverHandler>(),
                nameof(KooGalleryOpenApi)))
            .AddHttpMessageHandler<ApigSigningHandler>();
        return services;
    }
}
