using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace KooGallery.Functions.Callbacks;

/// <summary>Keeps the nonce table small: every five minutes, rows past their retention are deleted.</summary>
public sealed class NoncePurge(NonceStore nonces, ILogger<NoncePurge> logger)
{
    [Function(nameof(NoncePurge))]
    public async Task Run([TimerTrigger("0 */5 * * * *")] TimerInfo timer, CancellationToken cancellationToken)
    {
        var deleted = await nonces.PurgeExpiredAsync(cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Purged {Deleted} expired nonce rows (schedule past due: {PastDue}).", deleted, timer.IsPastDue);
    }
}
