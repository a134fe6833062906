using Microsoft.Extensions.Logging;

namespace KooGallery.Functions.Outbound;

/// <summary>
/// KooGallery's documented fallback (§2.4): when the primary host's name does not resolve or no
/// connection can be made, the same request goes to the fallback host (mkt.myhuaweicloud.com →
/// mkt.myhuaweicloud.cn). Any answer from the primary, even a 5xx, is kept: the host was reachable, and
/// the retry policy above decides what to do with it. Sits below the signer's caller and above the
/// signer, so each host gets its own signature (the Host header is signed).
/// </summary>
public sealed class HostFailoverHandler(Func<Uri?> fallbackBase, ILogger logger, string client) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        try
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (IsUnreachable(ex) && fallbackBase() is { } fallback && request.RequestUri is { } uri && !SameHost(uri, fallback))
        {
            logger.LogWarning(
                "{Client}: {Host} is unreachable ({Error}); trying the fallback host {FallbackHost}.",
                client, uri.Authority, ex.HttpRequestError, fallback.Authority);
            request.RequestUri = new UriBuilder(uri) { Scheme = fallback.Scheme, Host = fallback.Host, Port = fallback.Port }.Uri;
            request.Headers.Host = null;
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsUnreachable(HttpRequestException ex) =>
        ex.HttpRequestError is HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError;

    private static bool SameHost(Uri a, Uri b) =>
        string.Equals(a.Host, b.Host, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;
}
