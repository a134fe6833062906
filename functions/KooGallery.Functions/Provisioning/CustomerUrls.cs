using System.Net;

namespace KooGallery.Functions.Provisioning;

/// <summary>
/// Which URLs may be handed to a customer as <c>frontEndUrl</c> / <c>adminUrl</c>: absolute <c>https</c>, or
/// <c>http</c> on a loopback host for local runs. A plain <see cref="Uri.TryCreate(string, UriKind, out Uri)"/>
/// is not enough: on Linux it reads <c>/login</c> as <c>file:///login</c>.
/// </summary>
public static class CustomerUrls
{
    public static bool IsAcceptable(string? url) =>
        !string.IsNullOrWhiteSpace(url)
        && url.Length <= KooGallery.Protocol.Wire.AppInfo.MaxUrlLength
        && Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && !string.IsNullOrEmpty(uri.Host)
        && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && IsLoopback(uri)));

    private static bool IsLoopback(Uri uri) =>
        uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && IPAddress.IsLoopback(address));
}
