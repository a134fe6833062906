using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Licensing;

/// <summary>Section <c>Licensing</c>: licence-code products (§1.4, §5.9.5, §5.11).</summary>
public sealed class LicenseOptions
{
    public const string Section = "Licensing";

    /// <summary>How often a licence's state is asked from KooGallery when the software checks it (KooGallery asks for once a day).</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Time the software's check may spend asking KooGallery before the stored answer is given.</summary>
    public TimeSpan QueryTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Where a user is sent to renew when KooGallery's answer names no link of its own.</summary>
    public string RenewalUrl { get; set; } = "https://marketplace.huaweicloud.com/";
}

internal sealed class LicenseOptionsValidator : IValidateOptions<LicenseOptions>
{
    public ValidateOptionsResult Validate(string? name, LicenseOptions o)
    {
        var failures = new List<string>();
        if (o.RefreshInterval < TimeSpan.FromMinutes(1))
        {
            failures.Add("Licensing__RefreshInterval must be at least 00:01:00.");
        }

        if (o.QueryTimeout <= TimeSpan.Zero || o.QueryTimeout > TimeSpan.FromSeconds(30))
        {
            failures.Add("Licensing__QueryTimeout must be positive and at most 00:00:30.");
        }

        if (!Uri.TryCreate(o.RenewalUrl, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttps)
        {
            failures.Add("Licensing__RenewalUrl must be an absolute https URL.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
