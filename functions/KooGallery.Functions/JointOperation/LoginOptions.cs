using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.JointOperation;

/// <summary>Section <c>Login</c>: the buyer's single sign-on for joint-operation products (§5.12).</summary>
public sealed class LoginOptions
{
    public const string Section = "Login";

    /// <summary>
    /// Signs the login ticket handed to the merchant's SaaS (HMAC-SHA256) and, derived from it, the state
    /// cookie; at least 32 characters, from Key Vault. <c>Login__TicketKeys__1</c> … are older keys the SaaS
    /// may still accept during a rotation; only <c>__0</c> signs.
    /// </summary>
    public List<string> TicketKeys { get; set; } = [];

    /// <summary>How long a login ticket is valid: the SaaS redeems it at once.</summary>
    public TimeSpan TicketLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a sign-in may take at the identity provider before its state expires.</summary>
    public TimeSpan StateLifetime { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The callback address registered with the application credential. Required whenever sign-on is offered
    /// (a ticket key is set), except in Development, where empty means this app's own <c>/api/login/callback</c>
    /// on the host the browser used — a redirect URI taken from a request header is for local runs only.
    /// </summary>
    public string? CallbackUrl { get; set; }

    /// <summary>
    /// Query parameters of the unified login platform's redirect to a login address that may name the tenant's code,
    /// tried in order (comma-separated). KooGallery does not publish the redirect's parameters: an uncertain point
    /// (docs/protocol.md).
    /// </summary>
    public string PlatformTenantParameters { get; set; } = "tenantCode,tenant_code,tenant";

    /// <summary>Query parameters that may name the tenant's identity domain instead (comma-separated, tried in order).</summary>
    public string PlatformDomainParameters { get; set; } = "domainName,domain";

    /// <summary>
    /// The merchant serves each tenant on its own sub-domain (<c>acme.saas.example.com</c>): when the platform names
    /// no tenant, the first label of the request's host is the tenant code.
    /// </summary>
    public bool TenantFromSubdomain { get; set; }

    /// <summary>OAuth scope asked for (OneAccess: <c>get_user_info</c>).</summary>
    public string Scope { get; set; } = "get_user_info";

    /// <summary>Identity-provider paths under the tenant's <c>domainName</c> (§5.12).</summary>
    public string AuthorizePath { get; set; } = "/api/v1/oauth2/authorize";

    public string TokenPath { get; set; } = "/api/v1/oauth2/token";

    public string UserInfoPath { get; set; } = "/api/v1/oauth2/userinfo";

    /// <summary>The ticket's issuer claim; the SaaS checks it.</summary>
    public string Issuer { get; set; } = "koogallery-functions";
}

internal sealed class LoginOptionsValidator(IHostEnvironment environment) : IValidateOptions<LoginOptions>
{
    public ValidateOptionsResult Validate(string? name, LoginOptions o)
    {
        var failures = new List<string>();
        if (o.TicketKeys.Count > 0 && string.IsNullOrEmpty(o.CallbackUrl) && !environment.IsDevelopment())
        {
            failures.Add("Login__CallbackUrl must be set (the address registered with the application credential) when sign-on is offered (Login__TicketKeys__0); only in Development may it be taken from the request.");
        }

        // No key: single sign-on is simply not offered (the login pages say so); a key that is there must be usable.
        if (o.TicketKeys.Any(k => string.IsNullOrEmpty(k) || k.Length < 32))
        {
            failures.Add("Login__TicketKeys__* must be secrets of at least 32 characters (from Key Vault in Azure).");
        }

        if (o.TicketLifetime <= TimeSpan.Zero || o.TicketLifetime > TimeSpan.FromMinutes(10) || o.StateLifetime < TimeSpan.FromMinutes(1))
        {
            failures.Add("Login__TicketLifetime must be positive and at most 00:10:00; Login__StateLifetime at least 00:01:00.");
        }

        if (!string.IsNullOrEmpty(o.CallbackUrl) && !Uri.TryCreate(o.CallbackUrl, UriKind.Absolute, out _))
        {
            failures.Add("Login__CallbackUrl must be an absolute URL (or empty).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
