using System.Security.Cryptography;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Protocol.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Provisioning;

/// <summary>
/// Tenants kept by this app in Table Storage, for local runs and KooGallery's debug calls: no external
/// call, a usable <c>appInfo</c> (front-end URL from a template, an admin user, a random strong password).
/// Every operation is an ETag-guarded read-modify-write, so repeats and races leave one consistent row.
/// </summary>
public sealed class BuiltInTenantProvisioner(
    TableServiceClient tables,
    IOptions<StorageOptions> names,
    IOptionsMonitor<ProvisioningOptions> options,
    Security.CredentialProtector credentials,
    TimeProvider time,
    ILogger<BuiltInTenantProvisioner> logger) : ITenantProvisioner
{
    private const string RowKey = "tenant";
    private const int MaxAttempts = 5;

    private TableClient Table => tables.GetTableClient(names.Value.TenantTable);

    public async Task<AppInfo> ProvisionAsync(ProvisionTenant tenant, CancellationToken cancellationToken)
    {
        var existing = await FindAsync(tenant.InstanceId, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return ToAppInfo(existing);
        }

        var settings = options.CurrentValue.BuiltIn;
        var line = tenant.Order.Line(tenant.OrderLineId);
        var product = line?.ProductInfo is { Count: > 0 } products ? products[0] : null;
        var entity = new TenantEntity
        {
            PartitionKey = tenant.InstanceId,
            RowKey = RowKey,
            OrderId = tenant.OrderId,
            CustomerId = tenant.Order.CustomerId,
            FrontEndUrl = Fill(settings.FrontEndUrlTemplate, tenant),
            AdminUrl = Fill(settings.AdminUrlTemplate, tenant),
            UserName = settings.AdminUserName,
            PasswordProtected = credentials.Protect(StrongPassword(), tenant.InstanceId),
            Memo = settings.Memo,
            Status = TenantStatus.Active,
            ProductId = product?.ProductId,
            SkuCode = product?.SkuCode,
            LinearValue = product?.LinearValue is { } v ? (double)v : null,
            ExpiresAt = line?.ExpiresAt,
            IsTest = tenant.IsTest,
            UpdatedAt = time.GetUtcNow(),
        };

        try
        {
            await Table.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Built-in tenant created for instance {InstanceId} (order {OrderId}).", tenant.InstanceId, tenant.OrderId);
            return ToAppInfo(entity);
        }
        catch (RequestFailedException ex) when (ex.Status == 409)
        {
            // A concurrent or earlier run created it; its credentials are the ones handed out.
            var winner = await FindAsync(tenant.InstanceId, cancellationToken).ConfigureAwait(false)
                ?? throw new TenantProvisioningException($"Tenant {tenant.InstanceId} vanished during creation.", isTransient: true, ex);
            return ToAppInfo(winner);
        }
    }

    public Task UpdateExpiryAsync(UpdateTenantExpiry change, CancellationToken cancellationToken) =>
        ModifyAsync(change.InstanceId, t =>
        {
            t.ExpiresAt = change.ExpiresAt;
            t.ProductId = change.ProductId ?? t.ProductId;
        }, cancellationToken);

    public Task SuspendAsync(SuspendTenant change, CancellationToken cancellationToken) =>
        ModifyAsync(change.InstanceId, t =>
        {
            if (t.Status != TenantStatus.Released)
            {
                t.Status = TenantStatus.Suspended;
            }
        }, cancellationToken);

    public Task ResumeAsync(ResumeTenant change, CancellationToken cancellationToken) =>
        ModifyAsync(change.InstanceId, t =>
        {
            if (t.Status == TenantStatus.Released)
            {
                throw new TenantProvisioningException($"Tenant {change.InstanceId} is released and cannot be resumed.", isTransient: false);
            }

            t.Status = TenantStatus.Active;
        }, cancellationToken);

    public Task UpgradeAsync(UpgradeTenant change, CancellationToken cancellationToken)
    {
        var products = change.Order.Line(change.OrderLineId)?.ProductInfo;
        var product = products is { Count: > 0 } ? products[0] : throw new TenantProvisioningException($"Upgrade order {change.OrderId} has no product for line {change.OrderLineId}.", isTransient: false);
        return ModifyAsync(change.InstanceId, t =>
        {
            t.ProductId = product.ProductId ?? t.ProductId;
            t.SkuCode = product.SkuCode ?? t.SkuCode;
            t.LinearValue = product.LinearValue is { } v ? (double)v : t.LinearValue;
        }, cancellationToken);
    }

    public async Task ReleaseAsync(ReleaseTenant change, CancellationToken cancellationToken)
    {
        if (await FindAsync(change.InstanceId, cancellationToken).ConfigureAwait(false) is null)
        {
            return; // nothing was ever created (e.g. provisioning failed): released is what we want
        }

        await ModifyAsync(change.InstanceId, t => t.Status = TenantStatus.Released, cancellationToken).ConfigureAwait(false);
    }

    public async Task<SpecChangeVerdict> CheckSpecChangeAsync(CheckTenantSpecChange check, CancellationToken cancellationToken)
    {
        var tenant = await FindAsync(check.InstanceId, cancellationToken).ConfigureAwait(false);
        if (options.CurrentValue.BuiltIn.RefuseDowngrades
            && tenant?.LinearValue is { } current
            && decimal.TryParse(check.ProductInfo.LinearValue, System.Globalization.NumberStyles.Number, System.Globalization.CultureInfo.InvariantCulture, out var target)
            && (double)target < current)
        {
            return new SpecChangeVerdict(false, $"the target quantity {target} is below the current {current}; usage may not fit.");
        }

        return SpecChangeVerdict.Allow;
    }

    /// <summary>The built-in provisioner keeps no directory: the joint-operation table is the record.</summary>
    public Task NotifyKitAsync(KitNotice notice, CancellationToken cancellationToken)
    {
        logger.LogInformation("{Event} for {Subject} recorded; no tenant API to tell in BuiltIn mode.", notice.Event, notice.Subject);
        return Task.CompletedTask;
    }

    /// <summary>The built-in provisioner keeps no licensing system: the licence table is the record.</summary>
    public Task NotifyLicenseAsync(LicenseNotice notice, CancellationToken cancellationToken)
    {
        logger.LogInformation("Licence {License} {Event} (version {Version}) recorded; no tenant API to tell in BuiltIn mode.", notice.License, notice.Event, notice.Version);
        return Task.CompletedTask;
    }

    /// <summary>Reads the tenant row, or null.</summary>
    public async Task<TenantEntity?> FindAsync(string instanceId, CancellationToken cancellationToken)
    {
        var found = await Table.GetEntityIfExistsAsync<TenantEntity>(instanceId, RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    private async Task ModifyAsync(string instanceId, Action<TenantEntity> change, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var tenant = await FindAsync(instanceId, cancellationToken).ConfigureAwait(false)
                ?? throw new TenantProvisioningException($"No built-in tenant exists for instance {instanceId}.", isTransient: false);
            change(tenant);
            tenant.UpdatedAt = time.GetUtcNow();
            try
            {
                await Table.UpdateEntityAsync(tenant, tenant.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (RequestFailedException ex) when (ex.Status == 412 && attempt < MaxAttempts)
            {
                // Changed under us (or the SDK retried a write that had succeeded): re-read and apply again.
            }
        }
    }

    private AppInfo ToAppInfo(TenantEntity tenant) =>
        new(tenant.FrontEndUrl, tenant.AdminUrl, tenant.UserName, tenant.PasswordProtected is null ? null : credentials.Unprotect(tenant.PasswordProtected, tenant.PartitionKey), tenant.Memo);

    private static string Fill(string template, ProvisionTenant tenant) => template
        .Replace("{instanceId}", Uri.EscapeDataString(tenant.InstanceId), StringComparison.Ordinal)
        .Replace("{orderId}", Uri.EscapeDataString(tenant.OrderId), StringComparison.Ordinal)
        .Replace("{customerId}", Uri.EscapeDataString(tenant.Order.CustomerId ?? string.Empty), StringComparison.Ordinal);

    /// <summary>16 characters from a CSPRNG with at least one upper, lower, digit and symbol.</summary>
    internal static string StrongPassword()
    {
        const string upper = "ABCDEFGHJKLMNPQRSTUVWXYZ";
        const string lower = "abcdefghijkmnopqrstuvwxyz";
        const string digits = "23456789";
        const string symbols = "!@#$%^&*-_=+";
        var all = upper + lower + digits + symbols;
        var chars = new List<char>
        {
            upper[RandomNumberGenerator.GetInt32(upper.Length)],
            lower[RandomNumberGenerator.GetInt32(lower.Length)],
            digits[RandomNumberGenerator.GetInt32(digits.Length)],
            symbols[RandomNumberGenerator.GetInt32(symbols.Length)],
        };
        chars.AddRange(RandomNumberGenerator.GetItems<char>(all, 12));
        RandomNumberGenerator.Shuffle(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(chars));
        return new string(chars.ToArray());
    }
}

public static class TenantStatus
{
    public const string Active = "active";
    public const string Suspended = "suspended";
    public const string Released = "released";
}

public sealed class TenantEntity : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string OrderId { get; set; } = string.Empty;

    public string? CustomerId { get; set; }

    public string FrontEndUrl { get; set; } = string.Empty;

    public string? AdminUrl { get; set; }

    public string? UserName { get; set; }

    /// <summary>The initial password, encrypted with the app's credential key.</summary>
    public string? PasswordProtected { get; set; }

    public string? Memo { get; set; }

    public string Status { get; set; } = TenantStatus.Active;

    public string? ProductId { get; set; }

    public string? SkuCode { get; set; }

    public double? LinearValue { get; set; }

    public DateTimeOffset? ExpiresAt { get; set; }

    public bool IsTest { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}
