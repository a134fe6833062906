namespace KooGallery.Protocol.Wire;

/// <summary>The V2 basic-interface <c>activity</c> values (§5.1–5.7).</summary>
public static class Activities
{
    public const string NewInstance = "newInstance";
    public const string QueryInstance = "queryInstance";
    public const string RefreshInstance = "refreshInstance";
    public const string UpdateInstanceStatus = "updateInstanceStatus";
    public const string ReleaseInstance = "releaseInstance";
    public const string UpgradeInstance = "upgradeInstance";
    public const string ChangeInstanceCheck = "changeInstanceCheck";

    /// <summary>Licence-code 2.0 (§5.11): same address, signature and answers as the SaaS activities.</summary>
    public const string RefreshLicenseCode = "refreshLicenseCode";
    public const string UpdateLicenseCodeStatus = "updateLicenseCodeStatus";
    public const string ReleaseLicenseCode = "releaseLicenseCode";

    /// <summary>Every activity KooGallery may send to the V2 production address.</summary>
    public static readonly IReadOnlySet<string> V2Basic = new HashSet<string>(StringComparer.Ordinal)
    {
        NewInstance, QueryInstance, RefreshInstance, UpdateInstanceStatus, ReleaseInstance, UpgradeInstance, ChangeInstanceCheck,
        RefreshLicenseCode, UpdateLicenseCodeStatus, ReleaseLicenseCode,
    };

    /// <summary>Longest activity name accepted (KooGallery's field limits are 20–32).</summary>
    public const int MaxLength = 32;
}
