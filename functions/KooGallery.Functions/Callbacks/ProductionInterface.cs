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
