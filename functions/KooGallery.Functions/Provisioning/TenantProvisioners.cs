using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Provisioning;

/// <summary>
/// Picks the provisioner for an event: KooGallery's debug calls and daily dial tests (<c>testFlag=1</c>)
/// always go to the built-in one, so they never create anything billable on the merchant's side.
/// </summary>
public sealed class TenantProvisioners(IOptionsMonitor<ProvisioningOptions> options, IServiceProvider services)
{
    public ITenantProvisioner For(bool isTest) =>
        isTest || options.CurrentValue.Mode == ProvisioningMode.BuiltIn
            ? services.GetRequiredService<BuiltInTenantProvisioner>()
            : services.GetRequiredService<WebhookTenantProvisioner>();
}
