using System.Text.Json;

namespace KooGallery.Protocol.Wire;

/// <summary>
/// The joint-operation kit syncs (§2.2, §5.10), each at <c>{production address}/produceAPI/v2/{sync}</c>.
/// Only <c>tenantSync</c>'s table is published; the other bodies are read tolerantly, and every assumption
/// about them is written here.
/// </summary>
public static class KitSyncs
{
    public const string TenantSync = "tenantSync";
    public const string ApplicationSync = "applicationSync";
    public const string AuthSync = "authSync";
    public const string SingleOrgSync = "singleOrgSync";
    public const string AllOrgSync = "allOrgSync";

    /// <summary>The route segment the merchant registers in the seller console, in one place.</summary>
    public const string RoutePrefix = "koogallery/produceAPI/v2";

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { TenantSync, ApplicationSync, AuthSync, SingleOrgSync, AllOrgSync };

    internal const int Name = 255;
}

/// <summary><c>flag</c>: 1 adds (or updates), 0 deletes.</summary>
internal static class KitFlag
{
    public static bool TryRead(FieldReader fields, out bool add)
    {
        var flag = fields.Required("flag", 2);
        add = flag == "1";
        if (fields.Error is null && flag is not ("0" or "1"))
        {
            fields.Fail("flag must be 0 (delete) or 1 (add).");
        }

        return fields.Error is null;
    }
}

/// <summary><c>tenantSync</c> (§5.10): the buying enterprise, its login routing code and identity domain.</summary>
public sealed record TenantSyncRequest(string? InstanceId, string? OrderId, string TenantId, string TenantCode, string Name, string DomainName, bool Add, bool IsTest)
{
    public static WireParse<TenantSyncRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var instanceId = f.Optional("instanceId", Limits.Id); // empty when the seller applies for an app credential
        var orderId = f.Optional("orderId", Limits.Id);
        var tenantId = f.Required("tenantId", Limits.Id);
        var tenantCode = f.Required("tenantCode", Limits.Id);
        var name = f.Required("name", KitSyncs.Name);
        var domain = f.Required("domainName", KitSyncs.Name);
        var isTest = f.TestFlag();
        if (!KitFlag.TryRead(f, out var add))
        {
            return WireParse<TenantSyncRequest>.Fail(f.Error!);
        }

        return Uri.TryCreate(domain, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" && !string.IsNullOrEmpty(uri.Host)
            ? WireParse<TenantSyncRequest>.Ok(new(instanceId, orderId, tenantId, tenantCode, name, domain, add, isTest))
            : WireParse<TenantSyncRequest>.Fail("domainName must be the absolute URL of the tenant's identity domain.");
    }
}

/// <summary>
/// <c>applicationSync</c>: the tenant application's <c>clientId</c> and RSA-OAEP-encrypted <c>clientSecret</c>
/// (§4.5). Assumed fields: <c>instanceId</c>, <c>tenantId</c>, <c>appId</c> (optional), <c>clientId</c>,
/// <c>clientSecret</c> (required when adding), <c>flag</c>.
/// </summary>
public sealed record ApplicationSyncRequest(string? InstanceId, string TenantId, string? AppId, string ClientId, string? EncryptedClientSecret, bool Add, bool IsTest)
{
    public static WireParse<ApplicationSyncRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var instanceId = f.Optional("instanceId", Limits.Id);
        var tenantId = f.Required("tenantId", Limits.Id);
        var appId = f.Optional("appId", Limits.Id);
        var clientId = f.Required("clientId", KitSyncs.Name);
        var secret = f.Optional("clientSecret", 4096);
        var isTest = f.TestFlag();
        if (!KitFlag.TryRead(f, out var add))
        {
            return WireParse<ApplicationSyncRequest>.Fail(f.Error!);
        }

        return add && secret is null
            ? WireParse<ApplicationSyncRequest>.Fail("clientSecret is missing.")
            : WireParse<ApplicationSyncRequest>.Ok(new(instanceId, tenantId, appId, clientId, secret, add, isTest));
    }
}

/// <summary>One user of an <c>authSync</c>.</summary>
public sealed record KitUser(string UserName, string? Name, string? Role, bool Add);

/// <summary>
/// <c>authSync</c>: which users may use the instance. Assumed shapes, both read: one user at the top level
/// (<c>userName</c>, <c>name</c>, <c>role</c>, <c>flag</c>) or a <c>userList</c> of such objects (each its own
/// <c>flag</c>, else the top-level one); plus <c>instanceId</c>, <c>tenantId</c>, <c>appId</c>.
/// </summary>
public sealed record AuthSyncRequest(string? InstanceId, string TenantId, string? AppId, IReadOnlyList<KitUser> Users, bool IsTest)
{
    public static WireParse<AuthSyncRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var instanceId = f.Optional("instanceId", Limits.Id);
        var tenantId = f.Required("tenantId", Limits.Id);
        var appId = f.Optional("appId", Limits.Id);
        var topFlag = f.Optional("flag", 2);
        var isTest = f.TestFlag();
        if (f.Error is not null)
        {
            return WireParse<AuthSyncRequest>.Fail(f.Error);
        }

        var users = new List<KitUser>();
        var items = f.Element("userList") is { ValueKind: JsonValueKind.Array } list ? list.EnumerateArray().ToList() : [body];
        foreach (var item in items)
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                return WireParse<AuthSyncRequest>.Fail("userList must hold user objects.");
            }

            var u = new FieldReader(item);
            var userName = u.Required("userName", KitSyncs.Name);
            var name = u.Optional("name", KitSyncs.Name);
            var role = u.Optional("role", Limits.Id);
            var flag = u.Optional("flag", 2) ?? topFlag;
            if (u.Error is null && flag is not ("0" or "1"))
            {
                u.Fail("flag must be 0 (revoke) or 1 (authorise).");
            }

            if (u.Error is not null)
            {
                return WireParse<AuthSyncRequest>.Fail(u.Error);
            }

            users.Add(new KitUser(userName, name, role, flag == "1"));
        }

        return WireParse<AuthSyncRequest>.Ok(new(instanceId, tenantId, appId, users, isTest));
    }
}

/// <summary>One department of an organisation sync.</summary>
public sealed record KitOrg(string OrgCode, string? OrgName, string? ParentCode);

/// <summary>
/// <c>singleOrgSync</c> (one department added, changed or deleted: <c>orgCode</c>, <c>orgName</c>,
/// <c>parentCode</c>, <c>flag</c>) and <c>allOrgSync</c> (the whole tree: <c>orgList</c> of such objects);
/// both with <c>instanceId</c> and <c>tenantId</c>. Field names assumed from the single sync's.
/// </summary>
public sealed record OrgSyncRequest(string? InstanceId, string TenantId, IReadOnlyList<KitOrg> Orgs, bool Add, bool Whole, bool IsTest)
{
    public static WireParse<OrgSyncRequest> Parse(JsonElement body, bool whole)
    {
        var f = new FieldReader(body);
        var instanceId = f.Optional("instanceId", Limits.Id);
        var tenantId = f.Required("tenantId", Limits.Id);
        var isTest = f.TestFlag();
        var add = true;
        if (!whole && !KitFlag.TryRead(f, out add))
        {
            return WireParse<OrgSyncRequest>.Fail(f.Error!);
        }

        if (f.Error is not null)
        {
            return WireParse<OrgSyncRequest>.Fail(f.Error);
        }

        var items = whole
            ? f.Element("orgList") is { ValueKind: JsonValueKind.Array } list ? list.EnumerateArray().ToList() : null
            : [body];
        if (items is null)
        {
            return WireParse<OrgSyncRequest>.Fail("orgList is missing.");
        }

        var orgs = new List<KitOrg>();
        foreach (var item in items)
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                return WireParse<OrgSyncRequest>.Fail("orgList must hold organisation objects.");
            }

            var o = new FieldReader(item);
            var code = o.Required("orgCode", Limits.Id);
            var name = o.Optional("orgName", KitSyncs.Name);
            var parent = o.Optional("parentCode", Limits.Id);
            if (o.Error is not null)
            {
                return WireParse<OrgSyncRequest>.Fail(o.Error);
            }

            orgs.Add(new KitOrg(code, name, parent));
        }

        return WireParse<OrgSyncRequest>.Ok(new(instanceId, tenantId, orgs, add, whole, isTest));
    }
}
