using System.Globalization;
using System.Text.Json;

namespace KooGallery.Functions.Licensing;

/// <summary>
/// What KooGallery's licence query answered, read tolerantly. The answer's fields are only partly documented
/// (§5.9.5: "returns status/expiry"), so every assumption is here, and the raw answer is kept beside what
/// was read from it:
/// <list type="bullet">
/// <item>the licence object is <c>licenseInfo</c>, <c>data</c> or <c>result</c>, else the answer itself (v1);
///   in a batch (v2) it is an element of <c>licenseInfos</c>, <c>licenses</c> or <c>data</c> whose <c>license</c> matches;</item>
/// <item>the state is <c>status</c>, <c>licenseStatus</c> or <c>state</c>: NORMAL / ACTIVE / ACTIVATED / VALID / 1 mean usable,
///   FROZEN / FREEZE / 2 frozen, RELEASED / RELEASE / DELETED / 3 released, EXPIRED expired; anything else is kept and ignored;</item>
/// <item>the expiry is <c>expireTime</c>, <c>expiredTime</c> or <c>endTime</c>, as <c>yyyyMMddHHmmss</c> (in
///   <c>Lifecycle__ExpireTimeOffset</c>, like callbacks), <c>yyyyMMdd'T'HHmmss'Z'</c> or ISO 8601;</item>
/// <item>a renewal link is <c>renewUrl</c>, <c>renewalUrl</c> or <c>buyUrl</c> when present.</item>
/// </list>
/// </summary>
public sealed record LicenseAnswer(string? Status, bool Expired, string? ExpireTime, DateTimeOffset? ExpiresAt, string? RenewUrl)
{
    public static LicenseAnswer Read(string raw, string license, TimeSpan expireTimeOffset)
    {
        try
        {
            using var document = JsonDocument.Parse(raw);
            var info = Find(document.RootElement, license);
            if (info is not { ValueKind: JsonValueKind.Object } item)
            {
                return new LicenseAnswer(null, false, null, null, null);
            }

            var state = Text(item, "status", "licenseStatus", "state")?.ToUpperInvariant();
            var (status, expired) = state switch
            {
                "NORMAL" or "ACTIVE" or "ACTIVATED" or "VALID" or "1" => (LicenseStatus.Active, false),
                "FROZEN" or "FREEZE" or "2" => (LicenseStatus.Frozen, false),
                "RELEASED" or "RELEASE" or "DELETED" or "3" => (LicenseStatus.Released, false),
                "EXPIRED" => (null, true),
                _ => ((string?)null, false),
            };
            var expireTime = Text(item, "expireTime", "expiredTime", "endTime");
            return new LicenseAnswer(status, expired, expireTime, ParseTime(expireTime, expireTimeOffset), Text(item, "renewUrl", "renewalUrl", "buyUrl"));
        }
        catch (JsonException)
        {
            return new LicenseAnswer(null, false, null, null, null);
        }
    }

    private static JsonElement? Find(JsonElement root, string license)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var name in new[] { "licenseInfos", "licenses", "data" })
        {
            if (root.TryGetProperty(name, out var list) && list.ValueKind == JsonValueKind.Array)
            {
                return list.EnumerateArray().Cast<JsonElement?>().FirstOrDefault(e => e is { ValueKind: JsonValueKind.Object } o && Text(o, "license") == license);
            }
        }

        foreach (var name in new[] { "licenseInfo", "data", "result" })
        {
            if (root.TryGetProperty(name, out var inner) && inner.ValueKind == JsonValueKind.Object)
            {
                return inner;
            }
        }

        return root;
    }

    private static string? Text(JsonElement e, params string[] names)
    {
        foreach (var name in names)
        {
            if (e.TryGetProperty(name, out var v))
            {
                return v.ValueKind switch
                {
                    JsonValueKind.String => KooGallery.Protocol.Wire.WireText.TryGetString(v),
                    JsonValueKind.Number => v.GetRawText(),
                    _ => null,
                };
            }
        }

        return null;
    }

    internal static DateTimeOffset? ParseTime(string? text, TimeSpan offset)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        if (DateTime.TryParseExact(text, "yyyyMMddHHmmss", CultureInfo.InvariantCulture, DateTimeStyles.None, out var wall))
        {
            return new DateTimeOffset(wall, offset);
        }

        if (DateTimeOffset.TryParseExact(text, "yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var utc))
        {
            return utc;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var any) ? any : null;
    }
}
