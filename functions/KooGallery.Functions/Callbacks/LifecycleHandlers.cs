using KooGallery.Functions.Instances;
using KooGallery.Protocol;
using KooGallery.Protocol.Wire;

namespace KooGallery.Functions.Callbacks;

/// <summary>Parses an activity's body into its wire model, or answers 000002 with the reason.</summary>
internal static class Parsed
{
    public static async Task<KooGalleryResponse> Then<T>(WireParse<T> parsed, Func<T, Task<KooGalleryResponse>> handle) where T : class =>
        parsed.IsValid ? await handle(parsed.Value).ConfigureAwait(false) : new KooGalleryResponse(ResultCode.InvalidParameter, parsed.Error);
}

public sealed class NewInstanceHandler(InstanceLifecycle lifecycle) : IActivityHandler
{
    public string Activity => Activities.NewInstance;

    public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken) =>
        Parsed.Then(NewInstanceRequest.Parse(request.Body), async r => await lifecycle.NewInstanceAsync(r, cancellationToken).ConfigureAwait(false));
}

public sealed class QueryInstanceHandler(InstanceLifecycle lifecycle) : IActivityHandler
{
    public string Activity => Activities.QueryInstance;

    public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken) =>
        Parsed.Then(QueryInstanceRequest.Parse(request.Body), async r => await lifecycle.QueryInstanceAsync(r, cancellationToken).ConfigureAwait(false));
}

public sealed class RefreshInstanceHandler(InstanceLifecycle lifecycle) : IActivityHandler
{
    public string Activity => Activities.RefreshInstance;

    public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken) =>
        Parsed.Then(RefreshInstanceRequest.Parse(request.Body), r => lifecycle.RefreshInstanceAsync(r, cancellationToken));
}

public sealed class UpdateInstanceStatusHandler(InstanceLifecycle lifecycle) : IActivityHandler
{
    public string Activity => Activities.UpdateInstanceStatus;

    public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken) =>
        Parsed.Then(UpdateInstanceStatusRequest.Parse(request.Body), r => lifecycle.UpdateInstanceStatusAsync(r, cancellationToken));
}

public sealed class ReleaseInstanceHandler(InstanceLifecycle lifecycle) : IActivityHandler
{
    public string Activity => Activities.ReleaseInstance;

    public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken) =>
        Parsed.Then(ReleaseInstanceRequest.Parse(request.Body), r => lifecycle.ReleaseInstanceAsync(r, cancellationToken));
}

public sealed class UpgradeInstanceHandler(InstanceLifecycle lifecycle) : IActivityHandler
{
    public string Activity => Activities.UpgradeInstance;

    public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken) =>
        Parsed.Then(UpgradeInstanceRequest.Parse(request.Body), r => lifecycle.UpgradeInstanceAsync(r, cancellationToken));
}

public sealed class ChangeInstanceCheckHandler(InstanceLifecycle lifecycle) : IActivityHandler
{
    public string Activity => Activities.ChangeInstanceCheck;

    public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken) =>
        Parsed.Then(ChangeInstanceCheckRequest.Parse(request.Body), r => lifecycle.ChangeInstanceCheckAsync(r, cancellationToken));
}
