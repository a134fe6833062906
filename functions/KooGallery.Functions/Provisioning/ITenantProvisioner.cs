using KooGallery.Protocol.Wire;

namespace KooGallery.Functions.Provisioning;

/// <summary>
/// The seam between KooGallery's life cycle and the merchant's SaaS. Every method is safe to call twice
/// with the same event (the queue delivers at least once); failures throw
/// <see cref="TenantProvisioningException"/>.
/// </summary>
public interface ITenantProvisioner
{
    Task<AppInfo> ProvisionAsync(ProvisionTenant tenant, CancellationToken cancellationToken);

    Task UpdateExpiryAsync(UpdateTenantExpiry change, CancellationToken cancellationToken);

    Task SuspendAsync(SuspendTenant change, CancellationToken cancellationToken);

    Task ResumeAsync(ResumeTenant change, CancellationToken cancellationToken);

    Task UpgradeAsync(UpgradeTenant change, CancellationToken cancellationToken);

    Task ReleaseAsync(ReleaseTenant change, CancellationToken cancellationToken);

    Task<SpecChangeVerdict> CheckSpecChangeAsync(CheckTenantSpecChange check, CancellationToken cancellationToken);

    /// <summary>A joint-operation sync (tenant, user, organisation) for the merchant's systems.</summary>
    Task NotifyKitAsync(KitNotice notice, CancellationToken cancellationToken);

    /// <summary>A licence-code change for the merchant's licensing system.</summary>
    Task NotifyLicenseAsync(LicenseNotice notice, CancellationToken cancellationToken);
}
