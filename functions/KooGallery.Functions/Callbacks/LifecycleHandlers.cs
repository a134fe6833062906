using System.Text.Json;
using KooGallery.Functions.Instances;
using KooGallery.Functions.JointOperation;
using KooGallery.Functions.Licensing;
using KooGallery.Protocol;
using KooGallery.Protocol.Wire;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Callbacks;

/// <summary>
/// An activity handled by reading its wire model and calling one application-service method; a body that
/// does not parse is answered 000002 with the reason.
/// </summary>
public sealed class ActivityHandler<TRequest>(
    string activity,
    Func<JsonElement, WireParse<TRequest>> parse,
    Func<TRequest, CancellationToken, Task<KooGalleryResponse>> handle,
    Func<TRequest, string?>? workPartition = null) : IActivityHandler
    where TRequest : class
{
    public string Activity { get; } = activity;

    public bool RecordsNonceWithWork => workPartition is not null;

    public string? WorkPartition(CallbackEnvelope request) =>
        workPartition is not null && parse(request.Body) is { IsValid: true } parsed ? workPartition(parsed.Value) : null;

    public async Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken)
    {
        var parsed = parse(request.Body);
        return parsed.IsValid
            ? await handle(parsed.Value, cancellationToken).ConfigureAwait(false)
            : new KooGalleryResponse(ResultCode.InvalidParameter, parsed.Error);
    }
}

/// <summary>The seven V2 basic activities (§5.1–5.7), each to its <see cref="InstanceLifecycle"/> method.</summary>
internal static class LifecycleHandlers
{
    public static IServiceCollection AddLifecycleHandlers(this IServiceCollection services)
    {
        // These record their nonce with their work (NonceClaim): the instance's partition is where both go.
        Add<NewInstanceRequest>(services, Activities.NewInstance, NewInstanceRequest.Parse, async (l, r, ct) => await l.NewInstanceAsync(r, ct).ConfigureAwait(false), r => InstanceKeys.Escape(InstanceKeys.InstanceId(r.OrderId, r.OrderLineId, r.ProductId)));
        Add<QueryInstanceRequest>(services, Activities.QueryInstance, QueryInstanceRequest.Parse, async (l, r, ct) => await l.QueryInstanceAsync(r, ct).ConfigureAwait(false), _ => null); // writes nothing: its answer is kept on the nonce row
        Add<RefreshInstanceRequest>(services, Activities.RefreshInstance, RefreshInstanceRequest.Parse, (l, r, ct) => l.RefreshInstanceAsync(r, ct), r => InstanceKeys.Escape(r.InstanceId));
        Add<UpdateInstanceStatusRequest>(services, Activities.UpdateInstanceStatus, UpdateInstanceStatusRequest.Parse, (l, r, ct) => l.UpdateInstanceStatusAsync(r, ct), r => InstanceKeys.Escape(r.InstanceId));
        Add<ReleaseInstanceRequest>(services, Activities.ReleaseInstance, ReleaseInstanceRequest.Parse, (l, r, ct) => l.ReleaseInstanceAsync(r, ct), r => InstanceKeys.Escape(r.InstanceId));
        Add<UpgradeInstanceRequest>(services, Activities.UpgradeInstance, UpgradeInstanceRequest.Parse, (l, r, ct) => l.UpgradeInstanceAsync(r, ct), r => InstanceKeys.Escape(r.InstanceId));
        // Asks the tenant seam (an outbound call), so it runs only once its nonce is recorded.
        Add<InstanceLifecycle, ChangeInstanceCheckRequest>(services, Activities.ChangeInstanceCheck, ChangeInstanceCheckRequest.Parse, (l, r, ct) => l.ChangeInstanceCheckAsync(r, ct));
        return services;
    }

    /// <summary>The three licence-code activities (§5.11), each to its <see cref="LicenseService"/> method.</summary>
    public static IServiceCollection AddLicenseHandlers(this IServiceCollection services)
    {
        Add<LicenseService, RefreshLicenseCodeRequest>(services, Activities.RefreshLicenseCode, RefreshLicenseCodeRequest.Parse, (l, r, ct) => l.RefreshAsync(r, ct));
        Add<LicenseService, UpdateLicenseCodeStatusRequest>(services, Activities.UpdateLicenseCodeStatus, UpdateLicenseCodeStatusRequest.Parse, (l, r, ct) => l.UpdateStatusAsync(r, ct));
        Add<LicenseService, ReleaseLicenseCodeRequest>(services, Activities.ReleaseLicenseCode, ReleaseLicenseCodeRequest.Parse, (l, r, ct) => l.ReleaseAsync(r, ct));
        return services;
    }

    /// <summary>The five joint-operation kit syncs (§5.10), reached only through the kit route and its x-sign.</summary>
    public static IServiceCollection AddKitSyncHandlers(this IServiceCollection services)
    {
        Add<KitSyncService, TenantSyncRequest>(services, CallbackEnvelope.KitPrefix + KitSyncs.TenantSync, TenantSyncRequest.Parse, (k, r, ct) => k.TenantAsync(r, ct));
        Add<KitSyncService, ApplicationSyncRequest>(services, CallbackEnvelope.KitPrefix + KitSyncs.ApplicationSync, ApplicationSyncRequest.Parse, (k, r, ct) => k.ApplicationAsync(r, ct));
        Add<KitSyncService, AuthSyncRequest>(services, CallbackEnvelope.KitPrefix + KitSyncs.AuthSync, AuthSyncRequest.Parse, (k, r, ct) => k.AuthAsync(r, ct));
        Add<KitSyncService, OrgSyncRequest>(services, CallbackEnvelope.KitPrefix + KitSyncs.SingleOrgSync, b => OrgSyncRequest.Parse(b, whole: false), (k, r, ct) => k.OrgAsync(r, ct));
        Add<KitSyncService, OrgSyncRequest>(services, CallbackEnvelope.KitPrefix + KitSyncs.AllOrgSync, b => OrgSyncRequest.Parse(b, whole: true), (k, r, ct) => k.OrgAsync(r, ct));
        return services;
    }

    private static void Add<TRequest>(
        IServiceCollection services,
        string activity,
        Func<JsonElement, WireParse<TRequest>> parse,
        Func<InstanceLifecycle, TRequest, CancellationToken, Task<KooGalleryResponse>> handle,
        Func<TRequest, string?> workPartition)
        where TRequest : class => Add<InstanceLifecycle, TRequest>(services, activity, parse, handle, workPartition);

    private static void Add<TService, TRequest>(
        IServiceCollection services,
        string activity,
        Func<JsonElement, WireParse<TRequest>> parse,
        Func<TService, TRequest, CancellationToken, Task<KooGalleryResponse>> handle,
        Func<TRequest, string?>? workPartition = null)
        where TService : notnull
        where TRequest : class =>
        services.AddSingleton<IActivityHandler>(sp =>
        {
            var service = sp.GetRequiredService<TService>();
            return new ActivityHandler<TRequest>(activity, parse, (request, ct) => handle(service, request, ct), workPartition);
        });
}
