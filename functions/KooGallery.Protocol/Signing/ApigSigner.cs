using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using KooGallery.Protocol.Crypto;

namespace KooGallery.Protocol.Signing;

/// <summary>
/// Huawei API Gateway AK/SK signing, <c>SDK-HMAC-SHA256</c> (§5.9.1; Huawei "API Request Signing
/// Guide"), used on every call to KooGallery's open APIs:
/// <code>
/// CanonicalRequest = Method \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n hex(SHA256(body))
/// StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(SHA256(CanonicalRequest))
/// Authorization    = SDK-HMAC-SHA256 Access=AK, SignedHeaders=h1;h2, Signature=hex(HMAC_SHA256(SK, StringToSign))
/// </code>
/// The canonical URI always ends with '/', each path segment and query name/value is percent-encoded per
/// RFC 3986 (only A–Z a–z 0–9 - _ . ~ left bare), query pairs are sorted by name, header names are
/// lower-cased, values trimmed and sorted by name; each canonical header line ends with '\n'.
/// </summary>
/// <remarks>
/// Only an explicit set of headers is signed — <c>host</c>, <c>x-sdk-date</c>, <c>content-type</c> and
/// any the caller names — never "whatever is on the request": transports add headers of their own
/// (SocketsHttpHandler adds <c>Accept-Encoding</c> after a first send), and a retry would then sign
/// headers in a form that differs from what goes on the wire.
/// </remarks>
public sealed class ApigSigner(string accessKey, string secretKey, IEnumerable<string>? additionalSignedHeaders = null)
{
    public const string Algorithm = "SDK-HMAC-SHA256";
    public const string DateHeader = "X-Sdk-Date";
    public const string DateFormat = "yyyyMMdd'T'HHmmss'Z'";

    private readonly HashSet<string> signed = new(
        new[] { "host", "x-sdk-date", "content-type" }.Concat(additionalSignedHeaders ?? []),
        StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Adds <c>Host</c>, <c>X-Sdk-Date</c> and <c>Authorization</c> to <paramref name="request"/>. Headers
    /// named for signing must already be on the request.
    /// </summary>
    public async Task SignAsync(HttpRequestMessage request, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var uri = request.RequestUri ?? throw new ArgumentException("The request has no URI.", nameof(request));
        if (!uri.IsAbsoluteUri)
        {
            throw new ArgumentException("The request URI must be absolute to be signed.", nameof(request));
        }

        request.Headers.Remove(DateHeader);
        request.Headers.Remove("Authorization");
        var sdkDate = now.UtcDateTime.ToString(DateFormat, CultureInfo.InvariantCulture);
        request.Headers.TryAddWithoutValidation(DateHeader, sdkDate);
        request.Headers.Host ??= uri.IsDefaultPort ? uri.Host : $"{uri.Host}:{uri.Port}";

        var body = request.Content is null ? [] : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        var canonical = CanonicalRequest(request.Method.Method, uri, CollectHeaders(request).Where(h => signed.Contains(h.Key)), HmacHex.Sha256LowerHex(body), out var signedHeaders);
        var signature = Signature(secretKey, StringToSign(sdkDate, canonical));
        request.Headers.TryAddWithoutValidation("Authorization", AuthorizationHeader(accessKey, signedHeaders, signature));
    }

    /// <summary>
    /// The headers of a request and its content as they go on the wire (name, value); a header with several
    /// values is joined with ", " as HttpClient sends it.
    /// </summary>
    public static IReadOnlyList<KeyValuePair<string, string>> CollectHeaders(HttpRequestMessage request)
    {
        IEnumerable<KeyValuePair<string, HeaderStringValues>> all = request.Headers.NonValidated;
        if (request.Content is not null)
        {
            all = all.Concat(request.Content.Headers.NonValidated);
        }

        return all.Select(h => new KeyValuePair<string, string>(h.Key, h.Value.ToString())).ToList();
    }

    public static string CanonicalRequest(
        string method,
        Uri uri,
        IEnumerable<KeyValuePair<string, string>> headers,
        string payloadSha256Hex,
        out string signedHeaders)
    {
        var canonicalHeaders = headers
            .GroupBy(h => h.Key.ToLowerInvariant())
            .Select(g => (Name: g.Key, Value: string.Join(',', g.Select(h => h.Value.Trim()))))
            .OrderBy(h => h.Name, StringComparer.Ordinal)
            .ToList();
        signedHeaders = string.Join(';', canonicalHeaders.Select(h => h.Name));

        var builder = new StringBuilder();
        builder.Append(method.ToUpperInvariant()).Append('\n');
        builder.Append(CanonicalUri(uri.AbsolutePath)).Append('\n');
        builder.Append(CanonicalQueryString(uri.Query)).Append('\n');
        foreach (var (name, value) in canonicalHeaders)
        {
            builder.Append(name).Append(':').Append(value).Append('\n');
        }

        builder.Append('\n');
        builder.Append(signedHeaders).Append('\n');
        builder.Append(payloadSha256Hex);
        return builder.ToString();
    }

    public static string CanonicalUri(string absolutePath)
    {
        var segments = absolutePath.Split('/').Select(s => Escape(Uri.UnescapeDataString(s)));
        var path = string.Join('/', segments);
        return path.EndsWith('/') ? path : path + "/";
    }

    public static string CanonicalQueryString(string query)
    {
        if (string.IsNullOrEmpty(query) || query == "?")
        {
            return string.Empty;
        }

        return string.Join('&', query.TrimStart('?')
            .Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair =>
            {
                var equals = pair.IndexOf('=', StringComparison.Ordinal);
                var name = equals < 0 ? pair : pair[..equals];
                var value = equals < 0 ? string.Empty : pair[(equals + 1)..];
                return (Name: Decode(name), Value: Decode(value));
            })

            // As Huawei's SDK signers do (AKSKSigner, Signer.cs): sort the raw names, then the raw values of a repeated
            // name, by UTF-16 code unit, and escape afterwards — escaping first would order "%3B" before "A".
            .OrderBy(p => p.Name, StringComparer.Ordinal)
            .ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => $"{Escape(p.Name)}={Escape(p.Value)}"));
    }

    public static string StringToSign(string sdkDate, string canonicalRequest) =>
        $"{Algorithm}\n{sdkDate}\n{HmacHex.Sha256LowerHex(Encoding.UTF8.GetBytes(canonicalRequest))}";

    public static string Signature(string secretKey, string stringToSign) =>
        HmacHex.LowerHex(HmacHex.HmacSha256(secretKey, stringToSign));

    public static string AuthorizationHeader(string accessKey, string signedHeaders, string signature) =>
        $"{Algorithm} Access={accessKey}, SignedHeaders={signedHeaders}, Signature={signature}";

    /// <summary>RFC 3986 percent-encoding with upper-case hex, as the gateway computes it.</summary>
    public static string Escape(string value)
    {
        var builder = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~')
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    private static string Decode(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));

    /// <summary>
    /// Gateway side (used by the open-API emulator): recomputes the signature of a received request and
    /// compares it in constant time. Only the headers named in <c>SignedHeaders</c> take part.
    /// </summary>
    public static ApigVerification Verify(
        string method,
        Uri uri,
        IEnumerable<KeyValuePair<string, string>> headers,
        ReadOnlySpan<byte> body,
        Func<string, string?> secretKeyForAccessKey,
        DateTimeOffset now,
        TimeSpan maxSkew)
    {
        var headerList = headers.ToList();
        var authorization = headerList.FirstOrDefault(h => h.Key.Equals("Authorization", StringComparison.OrdinalIgnoreCase)).Value;
        if (!TryParseAuthorization(authorization, out var ak, out var signed, out var signature))
        {
            return ApigVerification.Fail("APIGW.0301", "Authorization header is missing or malformed.");
        }

        var sdkDate = headerList.FirstOrDefault(h => h.Key.Equals(DateHeader, StringComparison.OrdinalIgnoreCase)).Value;
        if (!DateTimeOffset.TryParseExact(sdkDate, DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var signedAt))
        {
            return ApigVerification.Fail("APIGW.0301", "X-Sdk-Date is missing or malformed.");
        }

        if ((now - signedAt).Duration() > maxSkew)
        {
            return ApigVerification.Fail("APIGW.0303", "Signature expired (X-Sdk-Date too far from now).");
        }

        var sk = secretKeyForAccessKey(ak);
        if (sk is null)
        {
            return ApigVerification.Fail("APIGW.0301", "Unknown access key.");
        }

        var names = signed.Split(';', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        if (!names.Contains("x-sdk-date") || !names.Contains("host"))
        {
            return ApigVerification.Fail("APIGW.0301", "SignedHeaders must include host and x-sdk-date.");
        }

        var signedHeaderValues = headerList.Where(h => names.Contains(h.Key.ToLowerInvariant())).ToList();
        var canonical = CanonicalRequest(method, uri, signedHeaderValues, HmacHex.Sha256LowerHex(body), out var recomputedNames);
        if (recomputedNames != signed)
        {
            return ApigVerification.Fail("APIGW.0301", "A header named in SignedHeaders is missing from the request.");
        }

        var expected = Signature(sk, StringToSign(sdkDate!, canonical));
        return HmacHex.HexEqualsConstantTime(expected, signature)
            ? new ApigVerification(true, ak, null, null)
            : ApigVerification.Fail("APIGW.0301", "Incorrect app authentication information: verify aksk signature fail.");
    }

    private static bool TryParseAuthorization(string? value, out string accessKey, out string signedHeaders, out string signature)
    {
        accessKey = signedHeaders = signature = string.Empty;
        if (value is null || !value.StartsWith(Algorithm + " ", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var part in value[(Algorithm.Length + 1)..].Split(',', StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                return false;
            }

            var v = part[(equals + 1)..];
            switch (part[..equals])
            {
                case "Access": accessKey = v; break;
                case "SignedHeaders": signedHeaders = v; break;
                case "Signature": signature = v; break;
            }
        }

        return accessKey.Length > 0 && signedHeaders.Length > 0 && signature.Length > 0;
    }
}

/// <summary>Result of <see cref="ApigSigner.Verify"/>; on failure an APIG-style error code and message.</summary>
public sealed record ApigVerification(bool IsValid, string? AccessKey, string? ErrorCode, string? ErrorMessage)
{
    public static ApigVerification Fail(string code, string message) => new(false, null, code, message);
}
