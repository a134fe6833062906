using System.Text;
using KooGallery.Functions.Configuration;
using KooGallery.Protocol;
using KooGallery.Protocol.Signing;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Marketplace;

/// <summary>
/// Signs every attempt (retries and the fallback host each need a fresh <c>X-Sdk-Date</c> and their own
/// Host) with the APIG AK/SK signer, and, for usage pushes, adds the body signature headers of spec
/// §5.9.3 first so that they are covered by the APIG signature as well.
/// </summary>
public sealed class ApigSigningHandler(IOptionsMonitor<MarketplaceOptions> marketplace, IOptionsMonitor<KooGalleryOptions> koogallery, TimeProvider time)
    : DelegatingHandler
{
    /// <summary>Marks a request whose body needs the usage-push <c>signature</c>/<c>ts</c>/<c>nonce</c> headers.</summary>
    public static readonly HttpRequestOptionsKey<bool> UsagePushBodySignature = new("koogallery.usage-push-signature");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (request.Options.TryGetValue(UsagePushBodySignature, out var sign) && sign && request.Content is not null)
        {
            var body = Encoding.UTF8.GetString(await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false));
            var ts = RequestTimestamp.Format(now);
            var nonce = Nonce.New();
            foreach (var header in new[] { UsagePushSignature.SignatureHeader, UsagePushSignature.TimestampHeader, UsagePushSignature.NonceHeader })
            {
                request.Headers.Remove(header);
            }

            request.Headers.TryAddWithoutValidation(UsagePushSignature.SignatureHeader, UsagePushSignature.Compute(koogallery.CurrentValue.Keys[0], ts, nonce, body));
            request.Headers.TryAddWithoutValidation(UsagePushSignature.TimestampHeader, ts);
            request.Headers.TryAddWithoutValidation(UsagePushSignature.NonceHeader, nonce);
        }

        var credentials = marketplace.CurrentValue;
        var signer = sign
            ? new ApigSigner(credentials.AccessKey, credentials.SecretKey, [UsagePushSignature.SignatureHeader, UsagePushSignature.TimestampHeader, UsagePushSignature.NonceHeader])
            : new ApigSigner(credentials.AccessKey, credentials.SecretKey);
        await signer.SignAsync(request, now, cancellationToken).ConfigureAwait(false);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }
}
