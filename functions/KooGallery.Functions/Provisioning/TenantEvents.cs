using System.Text.Json.Serialization;
using KooGallery.Functions.Marketplace;
using KooGallery.Protocol.Wire;

namespace KooGallery.Functions.Provisioning;

/// <summary>
/// A life-cycle event the merchant's SaaS must learn of, named in KooGallery's terms. The idempotency key
/// (<c>instance:event:order</c>, or the operation id for events that carry no order) lets the merchant's
/// side drop repeats: queue workers run at least once, so the same event can arrive twice.
/// </summary>
public abstract record TenantEvent(string InstanceId, bool IsTest)
{
    [JsonIgnore]
    public abstract string Name { get; }

    /// <summary>The order that caused the event, or an operation id the caller guarantees unique per event.</summary>
    [JsonIgnore]
    protected abstract string Discriminator { get; }

    [JsonIgnore]
    public string IdempotencyKey => $"{InstanceId}:{Name}:{Discriminator}";
}

/// <summary>A new instance was bought: create the tenant, answer its login data.</summary>
public sealed record ProvisionTenant(string InstanceId, string OrderId, string? OrderLineId, bool IsTest, KooGalleryOrder Order)
    : TenantEvent(InstanceId, IsTest)
{
    public override string Name => "provision";

    protected override string Discriminator => OrderId;
}

/// <summary>Renewal, trial to formal or renewal cancelled (refreshInstance): a new expiry, perhaps a new product.</summary>
public sealed record UpdateTenantExpiry(string InstanceId, string OrderId, string Scene, string ExpireTime, DateTimeOffset ExpiresAt, string? ProductId, bool IsTest)
    : TenantEvent(InstanceId, IsTest)
{
    public override string Name => "update-expiry";

    protected override string Discriminator => $"{OrderId}:{Scene}";
}

/// <summary>Frozen by KooGallery (expiry, arrears, violation): stop service, keep data.</summary>
public sealed record SuspendTenant(string InstanceId, string OperationId, bool IsTest) : TenantEvent(InstanceId, IsTest)
{
    public override string Name => "suspend";

    protected override string Discriminator => OperationId;
}

/// <summary>Unfrozen: serve again.</summary>
public sealed record ResumeTenant(string InstanceId, string OperationId, bool IsTest) : TenantEvent(InstanceId, IsTest)
{
    public override string Name => "resume";

    protected override string Discriminator => OperationId;
}

/// <summary>A paid upgrade order: apply the spec read from it.</summary>
public sealed record UpgradeTenant(string InstanceId, string OrderId, string OrderLineId, bool IsTest, KooGalleryOrder Order)
    : TenantEvent(InstanceId, IsTest)
{
    public override string Name => "upgrade";

    protected override string Discriminator => OrderId;
}

/// <summary>Released: delete the tenant (KooGallery's retention period has passed or it was unsubscribed).</summary>
public sealed record ReleaseTenant(string InstanceId, string? OrderId, string OperationId, bool IsTest) : TenantEvent(InstanceId, IsTest)
{
    public override string Name => "release";

    protected override string Discriminator => OrderId ?? OperationId;
}

/// <summary>changeInstanceCheck: may the instance move to this product at renewal?</summary>
public sealed record CheckTenantSpecChange(string InstanceId, ChangeProductInfo ProductInfo, string OperationId, bool IsTest)
    : TenantEvent(InstanceId, IsTest)
{
    public override string Name => "check-spec-change";

    protected override string Discriminator => OperationId;
}

/// <summary>The tenant side's answer to a spec-change check.</summary>
public sealed record SpecChangeVerdict(bool Allowed, string? Reason = null)
{
    public static readonly SpecChangeVerdict Allow = new(true);
}

/// <summary>A tenant operation failed; <see cref="IsTransient"/> says whether trying later may help.</summary>
public sealed class TenantProvisioningException(string message, bool isTransient, Exception? inner = null) : Exception(message, inner)
{
    public bool IsTransient { get; } = isTransient;
}

/// <summary>
/// A licence-code change (licence-code products): <c>license.refreshed</c>, <c>license.frozen</c>,
/// <c>license.unfrozen</c> or <c>license.released</c>, with the licence's state after it. The subject in
/// <c>instanceId</c> is the licence code; each version of a licence is told once.
/// </summary>
public sealed record LicenseNotice(
    string License, string Event, int Version, string Status, string? ExpireTime, DateTimeOffset? ExpiresAt, string? ProductId, string? OrderId, string? Scene, bool IsTest)
    : TenantEvent(License, IsTest)
{
    public override string Name => Event;

    protected override string Discriminator => $"v{Version}";
}

/// <summary>
/// A joint-operation sync for the merchant's systems: <c>tenant.synced</c>, <c>user.authorised</c>,
/// <c>user.revoked</c> or <c>org.synced</c>, with what KooGallery sent (never a client secret). The subject in
/// <c>instanceId</c> is the instance when the sync names one, else the tenant id; <paramref name="Key"/> makes
/// the idempotency key (the same sync again gives the same key).
/// </summary>
public sealed record KitNotice(string Subject, string Event, string Key, bool IsTest, Dictionary<string, string?> Data)
    : TenantEvent(Subject, IsTest)
{
    public override string Name => Event;

    protected override string Discriminator => Key;
}
