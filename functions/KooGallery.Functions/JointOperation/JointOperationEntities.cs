using Azure;
using Azure.Data.Tables;

namespace KooGallery.Functions.JointOperation;

/// <summary>
/// What KooGallery's kit syncs told us about a buying enterprise, in table <c>Storage__JointTable</c>, one
/// partition per tenant (<c>tenant|{tenantId}</c>): the tenant row, its applications (<c>app|{clientId}</c>),
/// its authorised users (<c>user|{userName}</c>) and its organisation tree (<c>org|{version}|{orgCode}</c>,
/// the live version named on the tenant row). Partition <c>code</c> maps a tenant code to its tenant id, for
/// routing a user's sign-in to the right identity domain.
/// </summary>
public sealed class KitTenantEntity : ITableEntity
{
    public const string Row = "tenant";

    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = Row;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string TenantId { get; set; } = string.Empty;

    public string TenantCode { get; set; } = string.Empty;

    public string Name { get; set; } = string.Empty;

    public string DomainName { get; set; } = string.Empty;

    public string? InstanceId { get; set; }

    public string? OrderId { get; set; }

    public bool Deleted { get; set; }

    public bool IsTest { get; set; }

    /// <summary>The version of the organisation tree readers see; an <c>allOrgSync</c> writes a new version, then moves this.</summary>
    public string? OrgTree { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    public static string PartitionFor(string tenantId) => "tenant|" + Instances.InstanceKeys.Escape(tenantId);
}

public sealed class KitAppEntity : ITableEntity
{
    public const string Prefix = "app|";

    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string ClientId { get; set; } = string.Empty;

    public string? AppId { get; set; }

    public string? InstanceId { get; set; }

    /// <summary>The decrypted client secret, encrypted again at rest with the app's credential key; never logged.</summary>
    public string ClientSecretProtected { get; set; } = string.Empty;

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>
/// A user's authorisation for one instance (<c>user|{userName}|{instanceId}</c>; <c>*</c> when the sync named no
/// instance): revoking a user in one instance leaves the tenant's others alone.
/// </summary>
public sealed class KitUserEntity : ITableEntity
{
    public const string Prefix = "user|";

    public static string RowKeyFor(string userName, string? instanceId) =>
        $"{Prefix}{Part(userName)}|{(string.IsNullOrEmpty(instanceId) ? "*" : Part(instanceId))}";

    /// <summary>Escaped, and '|' too, so that no user name or instance id can end where the other begins.</summary>
    private static string Part(string value) => Instances.InstanceKeys.Escape(value).Replace("|", "%7C", StringComparison.Ordinal);

    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string UserName { get; set; } = string.Empty;

    public string? Name { get; set; }

    public string? Role { get; set; }

    public string? AppId { get; set; }

    public string? InstanceId { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

public sealed class KitOrgEntity : ITableEntity
{
    public const string Prefix = "org|";

    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string OrgCode { get; set; } = string.Empty;

    public string? OrgName { get; set; }

    public string? ParentCode { get; set; }

}

/// <summary>Tenant code → tenant id (partition <c>code</c>), and identity domain → tenant id (partition <c>domain</c>).</summary>
public sealed class KitTenantCodeEntity : ITableEntity
{
    public const string Partition = "code";

    public const string DomainPartition = "domain";

    /// <summary>A domain as a key: its host (and port) only, lower case, so "https://x.example.com/" and "x.example.com" meet.</summary>
    public static string DomainKey(string domain)
    {
        var text = domain.Trim();
        var host = Uri.TryCreate(text.Contains("://", StringComparison.Ordinal) ? text : "https://" + text, UriKind.Absolute, out var uri) ? uri.Authority : text;
        return Instances.InstanceKeys.Escape(host.ToLowerInvariant());
    }

    public string PartitionKey { get; set; } = Partition;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string TenantId { get; set; } = string.Empty;
}

/// <summary>
/// Application → the tenants that have it (partition <c>appindex|{appId or clientId}</c>, one row per tenant with
/// that tenant's client id and instance): how a login address that names only the application finds the tenants,
/// and how the console lists every application's login address without reading any tenant.
/// </summary>
public sealed record KitAppIndex(string Application, string TenantId, string ClientId, string? InstanceId)
{
    public const string Prefix = "appindex|";

    public const string End = "appindex}";

    public static string PartitionFor(string application) => Prefix + Instances.InstanceKeys.Escape(application);

    public static string ApplicationOf(string partition) => Uri.UnescapeDataString(partition[Prefix.Length..]);

    public static KitAppIndex From(TableEntity e) => new(
        ApplicationOf(e.PartitionKey),
        e.GetString(nameof(KitTenantEntity.TenantId)) ?? e.RowKey,
        e.GetString(nameof(KitAppEntity.ClientId)) ?? string.Empty,
        e.GetString(nameof(KitAppEntity.InstanceId)));
}
