using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Marketplace;

/// <summary>
/// How to reach KooGallery's open APIs (section <c>Marketplace</c>). The site picks the documented hosts
/// (§2.4); <see cref="BaseUrl"/> and <see cref="FallbackBaseUrl"/> override them, e.g. to point a
/// local run at the open-API emulator.
/// </summary>
public sealed class MarketplaceOptions
{
    public const string Section = "Marketplace";

    /// <summary><c>cn</c> (Chinese mainland), <c>intl</c> (international) or <c>eu</c>.</summary>
    public string Site { get; set; } = "cn";

    public string? BaseUrl { get; set; }

    /// <summary>Tried only when the primary host does not resolve or refuses connections; empty string disables it.</summary>
    public string? FallbackBaseUrl { get; set; }

    /// <summary>The merchant account's access key id for APIG signing. Not a secret, but still never logged.</summary>
    public string AccessKey { get; set; } = string.Empty;

    /// <summary>The secret access key; from Key Vault in Azure.</summary>
    public string SecretKey { get; set; } = string.Empty;

    public Uri PrimaryBase => new(string.IsNullOrWhiteSpace(BaseUrl) ? SiteHosts(Site).Primary : BaseUrl);

    public Uri? FallbackBase => FallbackBaseUrl switch
    {
        null => SiteHosts(Site).Fallback is { } f && string.IsNullOrWhiteSpace(BaseUrl) ? new Uri(f) : null,
        "" => null,
        var explicitUrl => new Uri(explicitUrl),
    };

    /// <summary>Documented hosts per site; the international site's documented fallback is the .cn host.</summary>
    public static (string Primary, string? Fallback) SiteHosts(string site) => site.ToLowerInvariant() switch
    {
        "cn" => ("https://mkt.myhuaweicloud.com", "https://mkt.myhuaweicloud.cn"),
        "intl" => ("https://mkt-intl.myhuaweicloud.com", "https://mkt.myhuaweicloud.cn"),
        "eu" => ("https://mkt.myhuaweicloud.eu", null),
        _ => throw new ArgumentException($"Unknown KooGallery site '{site}' (cn, intl or eu).", nameof(site)),
    };
}

internal sealed class MarketplaceOptionsValidator : IValidateOptions<MarketplaceOptions>
{
    public ValidateOptionsResult Validate(string? name, MarketplaceOptions o)
    {
        var failures = new List<string>();
        if (o.Site.ToLowerInvariant() is not ("cn" or "intl" or "eu"))
        {
            failures.Add($"Marketplace__Site must be cn, intl or eu (is '{o.Site}').");
        }

        foreach (var (setting, value) in new[] { ("Marketplace__BaseUrl", o.BaseUrl), ("Marketplace__FallbackBaseUrl", o.FallbackBaseUrl) })
        {
            if (!string.IsNullOrEmpty(value) && !(Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"))
            {
                failures.Add($"{setting} must be an absolute http(s) URL.");
            }
        }

        if (string.IsNullOrWhiteSpace(o.AccessKey) || string.IsNullOrWhiteSpace(o.SecretKey))
        {
            failures.Add(
                "KooGallery open-API credentials missing: set Marketplace__AccessKey and Marketplace__SecretKey to the merchant " +
                "account's AK/SK (the local sample points them at the open-API emulator).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
