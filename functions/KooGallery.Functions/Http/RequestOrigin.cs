using Microsoft.AspNetCore.Http;

namespace KooGallery.Functions.Http;

/// <summary>The origin a request came to (scheme, host, path base), for addresses derived from it in local runs.</summary>
public static class RequestOrigin
{
    /// <summary>A request without a usable host (a test, a malformed call) gets <c>http://localhost/</c>, never an exception.</summary>
    public static Uri Of(HttpRequest request) =>
        Uri.TryCreate($"{request.Scheme}://{request.Host}{request.PathBase}/", UriKind.Absolute, out var origin) && request.Host.HasValue
            ? origin
            : new Uri("http://localhost/");
}
