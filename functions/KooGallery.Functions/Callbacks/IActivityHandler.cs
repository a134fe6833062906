using KooGallery.Protocol.Wire;

namespace KooGallery.Functions.Callbacks;

/// <summary>
/// Handles one V2 <c>activity</c> once the call is authenticated and its nonce recorded. Implementations
/// are registered in DI; an activity without one answers <c>000002</c> "not implemented".
/// </summary>
public interface IActivityHandler
{
    /// <summary>The <c>activity</c> value this handler answers, e.g. <see cref="Activities.NewInstance"/>.</summary>
    string Activity { get; }

    Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken);
}
