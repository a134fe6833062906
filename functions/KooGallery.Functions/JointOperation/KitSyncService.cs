using System.Security.Cryptography;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Security;
using KooGallery.Protocol;
using KooGallery.Protocol.Crypto;
using KooGallery.Protocol.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.JointOperation;

/// <summary>Section <c>JointOperation</c>: the merchant's RSA private key for <c>applicationSync.clientSecret</c> (§4.5).</summary>
public sealed class JointOperationOptions
{
    public const string Section = "JointOperation";

    /// <summary>PEM (PKCS#8 or PKCS#1) of the key whose public half is uploaded with the application credential; from Key Vault in Azure.</summary>
    public string? RsaPrivateKey { get; set; }

    /// <summary>
    /// Accept a tenant's identity domain over plain <c>http</c>. Only for local development against a simulator:
    /// the app sends the decrypted <c>clientSecret</c> to that domain's token endpoint, which must never happen in clear text.
    /// </summary>
    public bool AllowHttpIdentityDomains { get; set; }
}

/// <summary>
/// The joint-operation kit syncs (§5.10): KooGallery tells the merchant about the buying enterprise
/// (tenant), its application credential, which users may use the instance and its organisation tree. Each
/// sync is idempotent (the same tenant, app, user or department again creates nothing new; <c>flag</c> 0
/// deletes), lands in the instance's event log, and a whole-tree sync replaces the tree by writing a new
/// version and then switching to it, so a half-written tree is never read.
/// </summary>
public sealed class KitSyncService(
    TableServiceClient tables,
    IOptions<StorageOptions> names,
    InstanceRepository instances,
    KitNotifier notifier,
    CredentialProtector credentials,
    IOptionsMonitor<JointOperationOptions> options,
    TimeProvider time,
    ILogger<KitSyncService> logger)
{
    private TableClient Table => tables.GetTableClient(names.Value.JointTable);

    public async Task<KooGalleryResponse> TenantAsync(TenantSyncRequest request, CancellationToken cancellationToken)
    {
        if (request.DomainName.StartsWith("http:", StringComparison.OrdinalIgnoreCase) && !options.CurrentValue.AllowHttpIdentityDomains)
        {
            // The app sends the tenant application's clientSecret to this domain's token endpoint: only over TLS.
            return new KooGalleryResponse(ResultCode.InvalidParameter, "domainName must be an https URL: the application's client secret is sent to it.");
        }

        var now = time.GetUtcNow();
        var partition = KitTenantEntity.PartitionFor(request.TenantId);
        if (request.Add)
        {
            // The code and domain indexes first: a tenant row is never reachable by them before it exists, nor lost after.
            await Table.UpsertEntityAsync(new KitTenantCodeEntity { RowKey = InstanceKeys.Escape(request.TenantCode), TenantId = request.TenantId }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            await Table.UpsertEntityAsync(new KitTenantCodeEntity { PartitionKey = KitTenantCodeEntity.DomainPartition, RowKey = KitTenantCodeEntity.DomainKey(request.DomainName), TenantId = request.TenantId }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        }

        var row = new TableEntity(partition, KitTenantEntity.Row)
        {
            [nameof(KitTenantEntity.TenantId)] = request.TenantId,
            [nameof(KitTenantEntity.TenantCode)] = request.TenantCode,
            [nameof(KitTenantEntity.Name)] = request.Name,
            [nameof(KitTenantEntity.DomainName)] = request.DomainName,
            [nameof(KitTenantEntity.InstanceId)] = request.InstanceId,
            [nameof(KitTenantEntity.OrderId)] = request.OrderId,
            [nameof(KitTenantEntity.Deleted)] = !request.Add,
            [nameof(KitTenantEntity.IsTest)] = request.IsTest,
            [nameof(KitTenantEntity.UpdatedAt)] = now,
        };
        await Table.UpsertEntityAsync(row, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
        await LogAsync(request.InstanceId, KitSyncs.TenantSync, $"tenant {request.TenantId} ({request.TenantCode}, {request.Name}) {(request.Add ? "added" : "deleted")}, identity domain {request.DomainName}", cancellationToken).ConfigureAwait(false);
        await notifier.QueueAsync(
            [Notice(request.InstanceId, request.TenantId, "tenant.synced", $"{(request.Add ? "add" : "delete")}:{request.TenantCode}:{request.Name}:{request.DomainName}", request.IsTest, new()
            {
                ["tenantId"] = request.TenantId, ["tenantCode"] = request.TenantCode, ["name"] = request.Name, ["domainName"] = request.DomainName,
                ["orderId"] = request.OrderId, ["deleted"] = request.Add ? "false" : "true",
            })],
            cancellationToken).ConfigureAwait(false);
        return new KooGalleryResponse(ResultCode.Success);
    }

    public async Task<KooGalleryResponse> ApplicationAsync(ApplicationSyncRequest request, CancellationToken cancellationToken)
    {
        var partition = KitTenantEntity.PartitionFor(request.TenantId);
        var rowKey = KitAppEntity.Prefix + InstanceKeys.Escape(request.ClientId);
        var index = new TableEntity(KitAppIndex.PartitionFor(request.AppId ?? request.ClientId), InstanceKeys.Escape(request.TenantId))
        {
            [nameof(KitAppEntity.ClientId)] = request.ClientId,
            [nameof(KitAppEntity.InstanceId)] = request.InstanceId,
            [nameof(KitTenantEntity.TenantId)] = request.TenantId,
        };
        if (!request.Add)
        {
            await Table.DeleteEntityAsync(partition, rowKey, ETag.All, cancellationToken).ConfigureAwait(false);
            await Table.DeleteEntityAsync(index.PartitionKey, index.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
            await LogAsync(request.InstanceId, KitSyncs.ApplicationSync, $"application {request.ClientId} of tenant {request.TenantId} deleted", cancellationToken).ConfigureAwait(false);
            return new KooGalleryResponse(ResultCode.Success);
        }

        using var privateKey = PrivateKey(out var problem);
        if (privateKey is null)
        {
            // The merchant's misconfiguration, not KooGallery's data: 000005, so the sync is retried and succeeds
            // once the key is set. The callback alert fires on the 000005; this line says why.
            logger.LogError("JOINT OPERATION MISCONFIGURED: applicationSync for tenant {TenantId}, client {ClientId} cannot be taken: {Problem}; answering 000005 so KooGallery retries.", request.TenantId, request.ClientId, problem);
            return new KooGalleryResponse(ResultCode.InternalError, "the merchant's private key is not configured; please retry.");
        }

        var secret = ClientSecretCipher.TryDecrypt(privateKey, request.EncryptedClientSecret);
        if (secret is null)
        {
            logger.LogWarning("applicationSync for tenant {TenantId}, client {ClientId}: the clientSecret could not be decrypted with JointOperation__RsaPrivateKey; answering 000101.", request.TenantId, request.ClientId);
            return new KooGalleryResponse(ResultCode.AppSecretError, "the clientSecret could not be decrypted with the merchant's private key.");
        }

        await Table.UpsertEntityAsync(new KitAppEntity
        {
            PartitionKey = partition,
            RowKey = rowKey,
            ClientId = request.ClientId,
            AppId = request.AppId,
            InstanceId = request.InstanceId,
            ClientSecretProtected = credentials.Protect(secret, partition + "|" + rowKey),
            UpdatedAt = time.GetUtcNow(),
        }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);

        // After the credential: the index never names a tenant whose credential is not there to use.
        await Table.UpsertEntityAsync(index, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
        await LogAsync(request.InstanceId, KitSyncs.ApplicationSync, $"application {request.ClientId} of tenant {request.TenantId} stored (secret encrypted at rest)", cancellationToken).ConfigureAwait(false);
        return new KooGalleryResponse(ResultCode.Success);
    }

    public async Task<KooGalleryResponse> AuthAsync(AuthSyncRequest request, CancellationToken cancellationToken)
    {
        var partition = KitTenantEntity.PartitionFor(request.TenantId);
        var now = time.GetUtcNow();
        var actions = request.Users.Select(u => u.Add
            ? new TableTransactionAction(TableTransactionActionType.UpsertReplace, new KitUserEntity
            {
                PartitionKey = partition, RowKey = KitUserEntity.RowKeyFor(u.UserName, request.InstanceId), UserName = u.UserName, Name = u.Name, Role = u.Role,
                AppId = request.AppId, InstanceId = request.InstanceId, UpdatedAt = now,
            })
            : new TableTransactionAction(TableTransactionActionType.Delete, new TableEntity(partition, KitUserEntity.RowKeyFor(u.UserName, request.InstanceId)), ETag.All));

        // Users named twice: the last word counts, and a transaction may not touch one row twice.
        var unique = actions.Select((a, i) => (a, i)).GroupBy(x => x.a.Entity.RowKey).Select(g => g.OrderBy(x => x.i).Last().a).ToList();
        foreach (var chunk in unique.Chunk(100))
        {
            await SubmitTolerantAsync(chunk, cancellationToken).ConfigureAwait(false);
        }

        await notifier.QueueAsync(
            request.Users.Select(u => Notice(request.InstanceId, request.TenantId, u.Add ? "user.authorised" : "user.revoked", u.UserName, request.IsTest, new()
            {
                ["tenantId"] = request.TenantId, ["appId"] = request.AppId, ["userName"] = u.UserName, ["name"] = u.Name, ["role"] = u.Role,
            })),
            cancellationToken).ConfigureAwait(false);
        var authorised = request.Users.Count(u => u.Add);
        await LogAsync(request.InstanceId, KitSyncs.AuthSync, $"tenant {request.TenantId}: {authorised} user(s) authorised, {request.Users.Count - authorised} revoked ({string.Join(", ", request.Users.Take(5).Select(u => u.UserName))}{(request.Users.Count > 5 ? ", …" : string.Empty)})", cancellationToken).ConfigureAwait(false);
        return new KooGalleryResponse(ResultCode.Success);
    }

    public async Task<KooGalleryResponse> OrgAsync(OrgSyncRequest request, CancellationToken cancellationToken)
    {
        var partition = KitTenantEntity.PartitionFor(request.TenantId);
        var tenant = await Table.GetEntityIfExistsAsync<TableEntity>(partition, KitTenantEntity.Row, cancellationToken: cancellationToken).ConfigureAwait(false);
        var live = tenant.HasValue ? tenant.Value!.GetString("OrgTree") ?? "0" : "0";
        if (!request.Whole)
        {
            var org = request.Orgs[0];
            var rowKey = OrgRowKey(live, org.OrgCode);
            if (request.Add)
            {
                await Table.UpsertEntityAsync(new KitOrgEntity { PartitionKey = partition, RowKey = rowKey, OrgCode = org.OrgCode, OrgName = org.OrgName, ParentCode = org.ParentCode }, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await Table.DeleteEntityAsync(partition, rowKey, ETag.All, cancellationToken).ConfigureAwait(false);
            }

            await LogAsync(request.InstanceId, KitSyncs.SingleOrgSync, $"tenant {request.TenantId}: department {org.OrgCode} {(request.Add ? "added or changed" : "deleted")}", cancellationToken).ConfigureAwait(false);
            await notifier.QueueAsync(
                [Notice(request.InstanceId, request.TenantId, "org.synced", $"{(request.Add ? "add" : "delete")}:{org.OrgCode}:{org.OrgName}:{org.ParentCode}", request.IsTest, new()
                {
                    ["tenantId"] = request.TenantId, ["scope"] = "single", ["orgCode"] = org.OrgCode, ["orgName"] = org.OrgName, ["parentCode"] = org.ParentCode,
                    ["deleted"] = request.Add ? "false" : "true",
                })],
                cancellationToken).ConfigureAwait(false);
            return new KooGalleryResponse(ResultCode.Success);
        }

        // A new version of the whole tree, then one switch on the tenant row: readers see the old tree or the new, never half.
        var version = $"{time.GetUtcNow().UtcTicks:D19}{RandomNumberGenerator.GetHexString(6, lowercase: true)}";
        var rows = request.Orgs.DistinctBy(o => o.OrgCode, StringComparer.Ordinal)
            .Select(o => new TableTransactionAction(TableTransactionActionType.UpsertReplace, new KitOrgEntity { PartitionKey = partition, RowKey = OrgRowKey(version, o.OrgCode), OrgCode = o.OrgCode, OrgName = o.OrgName, ParentCode = o.ParentCode }));
        foreach (var chunk in rows.Chunk(100))
        {
            await Table.SubmitTransactionAsync(chunk, cancellationToken).ConfigureAwait(false);
        }

        await Table.UpsertEntityAsync(new TableEntity(partition, KitTenantEntity.Row) { ["TenantId"] = request.TenantId, ["OrgTree"] = version, ["UpdatedAt"] = time.GetUtcNow() }, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
        await DeleteOtherTreesAsync(partition, version, cancellationToken).ConfigureAwait(false);
        await LogAsync(request.InstanceId, KitSyncs.AllOrgSync, $"tenant {request.TenantId}: organisation tree replaced ({request.Orgs.Count} departments)", cancellationToken).ConfigureAwait(false);
        await notifier.QueueAsync(
            [Notice(request.InstanceId, request.TenantId, "org.synced", "all:" + string.Join(',', request.Orgs.Select(o => $"{o.OrgCode}/{o.ParentCode}/{o.OrgName}")), request.IsTest, new()
            {
                ["tenantId"] = request.TenantId, ["scope"] = "all", ["orgTree"] = version,
                ["orgList"] = System.Text.Json.JsonSerializer.Serialize(request.Orgs.Select(o => new { orgCode = o.OrgCode, orgName = o.OrgName, parentCode = o.ParentCode })),
            })],
            cancellationToken).ConfigureAwait(false);
        return new KooGalleryResponse(ResultCode.Success);
    }

    /// <summary>The tenant's live organisation tree.</summary>
    public async Task<IReadOnlyList<KitOrgEntity>> OrgTreeAsync(string tenantId, CancellationToken cancellationToken)
    {
        var partition = KitTenantEntity.PartitionFor(tenantId);
        var tenant = await Table.GetEntityIfExistsAsync<TableEntity>(partition, KitTenantEntity.Row, cancellationToken: cancellationToken).ConfigureAwait(false);
        var prefix = OrgRowKey(tenant.HasValue ? tenant.Value!.GetString("OrgTree") ?? "0" : "0", string.Empty);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {prefix} and RowKey lt {prefix + "~"}");
        return await Table.QueryAsync<KitOrgEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<KitTenantEntity?> TenantAsync(string tenantId, CancellationToken cancellationToken)
    {
        var found = await Table.GetEntityIfExistsAsync<KitTenantEntity>(KitTenantEntity.PartitionFor(tenantId), KitTenantEntity.Row, cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? found.Value : null;
    }

    /// <summary>The tenant a sign-in names, by tenant code (or, failing that, by tenant id).</summary>
    public async Task<KitTenantEntity?> TenantByCodeAsync(string codeOrId, CancellationToken cancellationToken)
    {
        var code = await Table.GetEntityIfExistsAsync<KitTenantCodeEntity>(KitTenantCodeEntity.Partition, InstanceKeys.Escape(codeOrId), cancellationToken: cancellationToken).ConfigureAwait(false);
        return await TenantAsync(code.HasValue ? code.Value!.TenantId : codeOrId, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The tenant whose identity domain this is (the platform may name the domain instead of the tenant).</summary>
    public async Task<KitTenantEntity?> TenantByDomainAsync(string domain, CancellationToken cancellationToken)
    {
        var found = await Table.GetEntityIfExistsAsync<KitTenantCodeEntity>(KitTenantCodeEntity.DomainPartition, KitTenantCodeEntity.DomainKey(domain), cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? await TenantAsync(found.Value!.TenantId, cancellationToken).ConfigureAwait(false) : null;
    }

    /// <summary>The tenant's applications (a few rows of its partition).</summary>
    public async Task<IReadOnlyList<KitAppEntity>> ApplicationsAsync(string tenantId, CancellationToken cancellationToken)
    {
        var partition = KitTenantEntity.PartitionFor(tenantId);
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {KitAppEntity.Prefix} and RowKey lt {"app}"}");
        return await Table.QueryAsync<KitAppEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The tenants that have an application (by its <c>appId</c>, or its <c>clientId</c> when it has none): one partition.</summary>
    public async Task<IReadOnlyList<KitAppIndex>> TenantsOfApplicationAsync(string application, int max, CancellationToken cancellationToken) =>
        await Table.QueryAsync<TableEntity>(e => e.PartitionKey == KitAppIndex.PartitionFor(application), maxPerPage: max, cancellationToken: cancellationToken)
            .Take(max).Select(KitAppIndex.From).ToListAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Every synced application with how many tenants have it: the application index partitions, never the tenants'.</summary>
    public async Task<IReadOnlyList<(string Application, int Tenants)>> ApplicationNamesAsync(int max, CancellationToken cancellationToken)
    {
        var rows = await Table.QueryAsync<TableEntity>(
                e => e.PartitionKey.CompareTo(KitAppIndex.Prefix) >= 0 && e.PartitionKey.CompareTo(KitAppIndex.End) < 0,
                select: ["PartitionKey", "RowKey"],
                cancellationToken: cancellationToken)
            .Take(max * 50).ToListAsync(cancellationToken).ConfigureAwait(false);
        return rows.GroupBy(r => r.PartitionKey, StringComparer.Ordinal)
            .Select(g => (KitAppIndex.ApplicationOf(g.Key), g.Count()))
            .Take(max)
            .ToList();
    }

    /// <summary>
    /// Where a user is authorised in a tenant: the instances (per-instance grants, <c>user|{user}|{instance}</c>),
    /// and a grant written before grants were per instance (<c>user|{user}</c>), which names its instance too.
    /// </summary>
    public async Task<IReadOnlyList<KitUserEntity>> GrantsAsync(string tenantId, string userName, CancellationToken cancellationToken)
    {
        var partition = KitTenantEntity.PartitionFor(tenantId);
        var prefix = KitUserEntity.RowKeyFor(userName, null)[..^1];
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {prefix} and RowKey lt {prefix[..^1] + "}"}");
        var grants = await Table.QueryAsync<KitUserEntity>(filter, cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false);
        var legacy = await Table.GetEntityIfExistsAsync<KitUserEntity>(partition, KitUserEntity.Prefix + InstanceKeys.Escape(userName), cancellationToken: cancellationToken).ConfigureAwait(false);
        // A per-instance key of another user can equal a legacy key ("user|alice|i-b" for "alice|i-b"): the row must be this user's.
        return legacy.HasValue && legacy.Value!.UserName == userName ? [.. grants, legacy.Value] : grants;
    }

    /// <summary>Whether the user may use the instance: a grant for it, or one that names no instance (tenant-wide).</summary>
    public async Task<KitUserEntity?> GrantAsync(string tenantId, string userName, string instanceId, CancellationToken cancellationToken) =>
        GrantFor(await GrantsAsync(tenantId, userName, cancellationToken).ConfigureAwait(false), instanceId);

    /// <summary>Among a user's grants, the one for the instance, else a tenant-wide one; null when neither.</summary>
    public static KitUserEntity? GrantFor(IEnumerable<KitUserEntity> grants, string instanceId) =>
        grants.Where(g => g.InstanceId == instanceId || string.IsNullOrEmpty(g.InstanceId))
            .OrderBy(g => string.IsNullOrEmpty(g.InstanceId))
            .FirstOrDefault();

    /// <summary>An application's client secret, decrypted (for the sign-on flow); null when unknown.</summary>
    public async Task<string?> ClientSecretAsync(string tenantId, string clientId, CancellationToken cancellationToken)
    {
        var partition = KitTenantEntity.PartitionFor(tenantId);
        var rowKey = KitAppEntity.Prefix + InstanceKeys.Escape(clientId);
        var found = await Table.GetEntityIfExistsAsync<KitAppEntity>(partition, rowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue ? credentials.Unprotect(found.Value!.ClientSecretProtected, partition + "|" + rowKey) : null;
    }

    /// <summary>A notice whose idempotency key is derived from what was synced, so the same sync again gives the same key.</summary>
    private static KitNotice Notice(string? instanceId, string tenantId, string name, string content, bool isTest, Dictionary<string, string?> data)
    {
        data["instanceId"] = instanceId;
        var key = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{tenantId}\n{name}\n{content}")).AsSpan(0, 12));
        return new KitNotice(instanceId ?? tenantId, name, key, isTest, data);
    }

    private static string OrgRowKey(string version, string orgCode) => $"{KitOrgEntity.Prefix}{version}|{InstanceKeys.Escape(orgCode)}";

    /// <summary>The merchant's private key, or null (with the reason) when it is not set or not a PEM RSA private key.</summary>
    private RSA? PrivateKey(out string? problem)
    {
        problem = null;
        var pem = options.CurrentValue.RsaPrivateKey;
        if (string.IsNullOrWhiteSpace(pem))
        {
            problem = "JointOperation__RsaPrivateKey is not set";
            return null;
        }

        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return rsa;
        }
        catch (ArgumentException)
        {
            rsa.Dispose();
            problem = "JointOperation__RsaPrivateKey is not a PEM RSA private key";
            return null;
        }
    }

    private async Task DeleteOtherTreesAsync(string partition, string live, CancellationToken cancellationToken)
    {
        var filter = TableClient.CreateQueryFilter($"PartitionKey eq {partition} and RowKey ge {KitOrgEntity.Prefix} and RowKey lt {"org}"}");
        var stale = (await Table.QueryAsync<TableEntity>(filter, select: ["PartitionKey", "RowKey"], cancellationToken: cancellationToken).ToListAsync(cancellationToken).ConfigureAwait(false))
            .Where(r => !r.RowKey.StartsWith(OrgRowKey(live, string.Empty), StringComparison.Ordinal))
            .Select(r => new TableTransactionAction(TableTransactionActionType.Delete, r, ETag.All));
        foreach (var chunk in stale.Chunk(100))
        {
            await SubmitTolerantAsync(chunk, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A transaction of upserts and deletes where a delete of a row already gone is not a failure.</summary>
    private async Task SubmitTolerantAsync(IReadOnlyList<TableTransactionAction> actions, CancellationToken cancellationToken)
    {
        try
        {
            await Table.SubmitTransactionAsync(actions, cancellationToken).ConfigureAwait(false);
        }
        catch (TableTransactionFailedException ex) when (ex.Status == 404)
        {
            foreach (var action in actions)
            {
                if (action.ActionType == TableTransactionActionType.Delete)
                {
                    await Table.DeleteEntityAsync(action.Entity.PartitionKey, action.Entity.RowKey, ETag.All, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await Table.UpsertEntityAsync(action.Entity, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Every sync lands in the instance's event log (when the sync names an instance).</summary>
    private Task LogAsync(string? instanceId, string sync, string detail, CancellationToken cancellationToken) =>
        string.IsNullOrEmpty(instanceId)
            ? Task.CompletedTask
            : instances.AppendAsync(instanceId, [instances.Event("kit-sync", sync, detail: detail)], cancellationToken);
}
