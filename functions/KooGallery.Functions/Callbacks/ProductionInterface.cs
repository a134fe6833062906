using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KooGallery.Functions.Callbacks;

/// <summary>
/// The production interface address a merchant registers with KooGallery: <c>POST /api/koogallery</c>.
/// Anonymous at the Functions level because the HMAC signature is the authentication.
/// </summary>
public sealed class ProductionInterface(CallbackPipeline pipeline)
{
    [Function(nameof(ProductionInterface))]
    public async Task<IActionResult> Run(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "koogallery")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var call = await IncomingCallback.ReadAsync(request, cancellationToken).ConfigureAwait(false);
        var answer = await pipeline.HandleAsync(call, cancellationToken).ConfigureAwait(false);
        return new SignedCallbackResult(answer);
    }
}

/// <summary>
/// The joint-operation kit syncs (§2.2): <c>POST /api/koogallery/produceAPI/v2/{sync}</c> under the
/// production address, verified with the kit <c>x-sign</c>/<c>x-timestamp</c>/<c>x-nonce</c> headers and
/// answered like every other call (exact signed bytes, <c>Body-Sign</c>, HTTP 200).
/// </summary>
public sealed class KitSyncInterface(CallbackPipeline pipeline)
{
    [Function(nameof(KitSyncInterface))]
    public async Task<IActionResult> Run(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = KooGallery.Protocol.Wire.KitSyncs.RoutePrefix + "/{sync}")] HttpRequest request,
        string sync,
        CancellationToken cancellationToken)
    {
        var call = await IncomingCallback.ReadKitAsync(request, sync, cancellationToken).ConfigureAwait(false);
        var answer = await pipeline.HandleAsync(call, cancellationToken).ConfigureAwait(false);
        return new SignedCallbackResult(answer);
    }
}
