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

public sealed class KitUserEntity : ITableEntity
{
    public const string Prefix = "user|";

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

/// <summary>Tenant code → tenant id (partition <c>code</c>).</summary>
public sealed class KitTenantCodeEntity : ITableEntity
{
    public const string Partition = "code";

    public string PartitionKey { get; set; } = Partition;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string TenantId { get; set; } = string.Empty;
}
