using KooGallery.Functions.Configuration;
using KooGallery.Functions.Outbound;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Provisioning;

/// <summary>Registers the tenant seam: the built-in provisioner and the merchant's tenant API.</summary>
public static class ProvisioningRegistration
{
    public static IServiceCollection AddProvisioning(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<ProvisioningOptions, ProvisioningOptionsValidator>(configuration, ProvisioningOptions.Section);
        services.AddSingleton<BuiltInTenantProvisioner>();
        services.AddHttpClient<WebhookTenantProvisioner>().AddResilience(nameof(WebhookTenantProvisioner));
        services.AddSingleton<TenantProvisioners>();
        return services;
    }
}
