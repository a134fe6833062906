using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Provisioning;

public enum ProvisioningMode
{
    /// <summary>Tenants kept in Table Storage by this app (local runs, demos, KooGallery debug calls).</summary>
    BuiltIn,

    /// <summary>Every event goes to the merchant's tenant API.</summary>
    Webhook,
}

/// <summary>Section <c>Provisioning</c>. Debug calls (<c>testFlag=1</c>) always use the built-in provisioner.</summary>
public sealed class ProvisioningOptions
{
    public const string Section = "Provisioning";

    public ProvisioningMode Mode { get; set; } = ProvisioningMode.BuiltIn;

    public BuiltInProvisioningOptions BuiltIn { get; set; } = new();

    public WebhookProvisioningOptions Webhook { get; set; } = new();
}

public sealed class BuiltInProvisioningOptions
{
    /// <summary>Customer front-end URL; placeholders <c>{instanceId}</c>, <c>{orderId}</c>, <c>{customerId}</c>.</summary>
    public string FrontEndUrlTemplate { get; set; } = "https://{instanceId}.tenants.example.com/";

    public string AdminUrlTemplate { get; set; } = "https://{instanceId}.tenants.example.com/admin";

    public string AdminUserName { get; set; } = "admin";

    public string? Memo { get; set; } = "Sign in with the initial password and change it.";

    /// <summary>Refuse a renewal-time change to a lower quantity (linear value) than the current one.</summary>
    public bool RefuseDowngrades { get; set; } = true;
}

public sealed class WebhookProvisioningOptions
{
    /// <summary>The merchant's tenant API; events are POSTed to <c>{BaseUrl}/{event}</c>.</summary>
    public string? BaseUrl { get; set; }

    /// <summary>HMAC secret for <c>X-KooGallery-Signature</c>, at least 32 characters; from Key Vault in Azure.</summary>
    public string? Secret { get; set; }
}

internal sealed class ProvisioningOptionsValidator : IValidateOptions<ProvisioningOptions>
{
    public ValidateOptionsResult Validate(string? name, ProvisioningOptions o)
    {
        var failures = new List<string>();
        foreach (var (setting, template) in new[]
                 {
                     ("Provisioning__BuiltIn__FrontEndUrlTemplate", o.BuiltIn.FrontEndUrlTemplate),
                     ("Provisioning__BuiltIn__AdminUrlTemplate", o.BuiltIn.AdminUrlTemplate),
                 })
        {
            var sample = template.Replace("{instanceId}", "i", StringComparison.Ordinal).Replace("{orderId}", "o", StringComparison.Ordinal).Replace("{customerId}", "c", StringComparison.Ordinal);
            if (!CustomerUrls.IsAcceptable(sample))
            {
                failures.Add($"{setting} must be an absolute https URL template (http only on a loopback host).");
            }
        }

        if (o.Mode == ProvisioningMode.Webhook)
        {
            if (!Uri.TryCreate(o.Webhook.BaseUrl, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            {
                failures.Add("Provisioning__Webhook__BaseUrl must be the absolute URL of the merchant's tenant API when Provisioning__Mode is Webhook.");
            }

            if (string.IsNullOrEmpty(o.Webhook.Secret) || o.Webhook.Secret.Length < 32)
            {
                failures.Add("Provisioning__Webhook__Secret must be at least 32 characters when Provisioning__Mode is Webhook.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
