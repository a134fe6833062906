using System.Runtime.Serialization;
using Azure;
using Azure.Data.Tables;

namespace KooGallery.Functions.Licensing;

public static class LicenseStatus
{
    public const string Active = "active";
    public const string Frozen = "frozen";
    public const string Released = "released";
}

/// <summary>
/// One licence code (licence-code 2.0, §1.4, §5.11) in table <c>Storage__LicenseTable</c>, partition = the
/// code: this row, its event log (<c>event|…</c>) and its idempotency markers (<c>applied|…</c>), so every
/// change is one same-partition transaction, as for instances. It holds what KooGallery told us (callbacks),
/// what KooGallery answered when asked (activate, query) and who activated it.
/// </summary>
public sealed class LicenseEntity : ITableEntity
{
    public const string Row = "license";

    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = Row;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string License { get; set; } = string.Empty;

    /// <summary><see cref="LicenseStatus"/>: what KooGallery's callbacks (or its last query answer) say.</summary>
    public string Status { get; set; } = LicenseStatus.Active;

    public bool IsTest { get; set; }

    /// <summary>Expiry as KooGallery sent it (<c>yyyyMMddHHmmss</c>, or as the query answered it).</summary>
    public string? ExpireTime { get; set; }

    /// <summary>The instant <see cref="ExpireTime"/> means (<c>Lifecycle__ExpireTimeOffset</c>).</summary>
    public DateTimeOffset? ExpiresAt { get; set; }

    public string? ProductId { get; set; }

    public string? OrderId { get; set; }

    public string? LastScene { get; set; }

    public DateTimeOffset? ActivatedAt { get; set; }

    public string? ActivatedAccount { get; set; }

    public string? ActivatedMachine { get; set; }

    /// <summary>When KooGallery's licence query last answered, and what (raw, unknown fields included).</summary>
    public DateTimeOffset? QueriedAt { get; set; }

    public string? QueryAnswer { get; set; }

    /// <summary>A renewal link KooGallery's query answer gave, shown when the licence is refused.</summary>
    public string? RenewUrl { get; set; }

    /// <summary>KooGallery's last refusal of the licence (query or activate), shown to the user.</summary>
    public string? RefusedReason { get; set; }

    /// <summary>Set by refreshLicenseCode: the next check asks KooGallery at once, whatever the daily interval says.</summary>
    public bool RefreshDue { get; set; }

    /// <summary>Incremented by every change KooGallery sends; the merchant's systems are told of each version once.</summary>
    public int Version { get; set; }

    /// <summary>The <c>license.*</c> event of the latest change (refreshed, frozen, unfrozen, released).</summary>
    public string? LastEvent { get; set; }

    /// <summary>The version the merchant's systems were last told of (webhook <c>license.*</c> events).</summary>
    public int NotifiedVersion { get; set; }

    public string? NotifyError { get; set; }

    public int NotifyFailures { get; set; }

    public DateTimeOffset? NotifyFailingSince { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    [IgnoreDataMember]
    public bool NotifyPending => NotifiedVersion < Version;
}
