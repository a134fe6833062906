using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Outbound;

/// <summary>Registers the outbound HTTP policies every client to KooGallery or the merchant shares.</summary>
public static class OutboundServicesRegistration
{
    public static IServiceCollection AddOutbound(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<OutboundHttpOptions, OutboundHttpOptionsValidator>(configuration, OutboundHttpOptions.Section);
        services.AddSingleton<OutboundPolicies>();
        return services;
    }
}
