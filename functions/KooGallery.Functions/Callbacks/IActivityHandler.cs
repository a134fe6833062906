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

    /// <summary>
    /// The instance partition this call's work is written to, when the handler records its nonce with that work
    /// (<see cref="NonceClaim"/>): the nonce insert then runs beside the handler's reads and the answer is kept in
    /// the work's transaction. Null (the default) for handlers that run only after their nonce is recorded.
    /// </summary>
    string? WorkPartition(CallbackEnvelope request) => null;

    /// <summary>True when the handler claims its nonce itself (<see cref="NonceClaim.ClaimAsync"/>) before any write.</summary>
    bool RecordsNonceWithWork => false;
}
