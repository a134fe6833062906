using System.Globalization;
using KooGallery.Protocol.Crypto;

namespace KooGallery.Protocol.Signing;

/// <summary>
/// The retired V1 <c>authToken</c> (§3.3), kept for merchants with an already-listed V1 product:
/// <code>authToken = base64(HMAC_SHA256(Key + timeStamp, k1=v1&amp;k2=v2… sorted by name, URL-decoded, authToken excluded))</code>
/// </summary>
public static class V1AuthToken
{
    public const string AuthTokenParameter = "authToken";
    public const string TimeStampParameter = "timeStamp";

    /// <summary>The V1 <c>timeStamp</c> format: UTC <c>yyyyMMddHHmmssSSS</c>.</summary>
    public static string FormatTimeStamp(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);

    public static string StringToSign(IEnumerable<KeyValuePair<string, string>> parameters) =>
        string.Join('&', parameters
            .Where(p => p.Key != AuthTokenParameter)
            .OrderBy(p => p.Key, StringComparer.Ordinal)
            .Select(p => $"{p.Key}={p.Value}"));

    /// <param name="key">The merchant Key.</param>
    /// <param name="parameters">Every request parameter, URL-decoded, including <c>timeStamp</c>.</param>
    public static string Compute(string key, IReadOnlyCollection<KeyValuePair<string, string>> parameters)
    {
        var timeStamp = parameters.FirstOrDefault(p => p.Key == TimeStampParameter).Value
            ?? throw new ArgumentException("V1 parameters must include timeStamp.", nameof(parameters));
        return Convert.ToBase64String(HmacHex.HmacSha256(key + timeStamp, StringToSign(parameters)));
    }

    /// <summary>
    /// Verifies against every Key. A decoded token with spaces had its '+' turned into spaces by a
    /// form decoder (Huawei FAQ); they are put back before comparing.
    /// </summary>
    public static bool Verify(IReadOnlyList<string> keys, IReadOnlyCollection<KeyValuePair<string, string>> parameters, string? authToken)
    {
        if (string.IsNullOrWhiteSpace(authToken) || parameters.All(p => p.Key != TimeStampParameter))
        {
            return false;
        }

        var received = authToken.Trim().Replace(' ', '+');
        var valid = false;
        foreach (var key in keys)
        {
            valid |= HmacHex.Base64EqualsConstantTime(Compute(key, parameters), received);
        }

        return valid;
    }
}
