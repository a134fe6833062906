using System.Text;
using KooGallery.Functions.Operations;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Tests;

/// <summary>Who the console lets in: a platform principal with the operator role, or an operator key; nobody else.</summary>
public class OperatorAccessTests
{
    private const string Key = "an-operator-key-of-enough-length";

    /// <param name="platform">Both the setting and the platform's own WEBSITE_AUTH_ENABLED say authentication runs in front.</param>
    private static OperatorAccess Access(bool platform, params string[] keys) => Access(platform, platform, keys);

    private static OperatorAccess Access(bool setting, bool platformSaysEnabled, params string[] keys) =>
        new(
            new StaticOptions(new ConsoleOptions { PlatformAuthentication = setting, OperatorKeys = [.. keys] }),
            new ConfigurationBuilder().AddInMemoryCollection(platformSaysEnabled ? new Dictionary<string, string?> { [OperatorAccess.PlatformAuthSetting] = "True" } : []).Build(),
            NullLogger<OperatorAccess>.Instance);

    private static HttpRequest Request(params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        return context.Request;
    }

    private static string Principal(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json));

    private const string WithRole = """{"auth_typ":"aad","name_typ":"name","role_typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role","claims":[{"typ":"name","val":"Ann Operator"},{"typ":"http://schemas.microsoft.com/ws/2008/06/identity/claims/role","val":"KooGallery.Operator"}]}""";
    private const string WithoutRole = """{"auth_typ":"aad","name_typ":"name","claims":[{"typ":"name","val":"Bob"},{"typ":"roles","val":"Reader"}]}""";

    [Fact]
    public void A_signed_in_principal_with_the_role_is_an_operator_named_in_the_event_log() =>
        Assert.Equal("Ann Operator", Access(platform: true).Authenticate(Request((OperatorAccess.PrincipalHeader, Principal(WithRole))))?.Name);

    [Fact]
    public void A_principal_without_the_role_or_garbage_is_refused()
    {
        var access = Access(platform: true);
        Assert.Null(access.Authenticate(Request((OperatorAccess.PrincipalHeader, Principal(WithoutRole)))));
        Assert.Null(access.Authenticate(Request((OperatorAccess.PrincipalHeader, "not base64 ***"))));
        Assert.Null(access.Authenticate(Request((OperatorAccess.PrincipalHeader, Principal("""{"claims":"x"}""")))));
        Assert.Null(access.Authenticate(Request()));
    }

    [Fact]
    public void The_principal_header_is_ignored_unless_both_the_setting_and_the_platform_say_authentication_is_on()
    {
        Assert.Null(Access(platform: false).Authenticate(Request((OperatorAccess.PrincipalHeader, Principal(WithRole)))));
        Assert.Null(Access(setting: true, platformSaysEnabled: false).Authenticate(Request((OperatorAccess.PrincipalHeader, Principal(WithRole)))));
        Assert.Null(Access(setting: false, platformSaysEnabled: true).Authenticate(Request((OperatorAccess.PrincipalHeader, Principal(WithRole)))));
    }

    [Theory]
    [InlineData(null, null, null, "X-KooGallery-Console header is missing")]
    [InlineData("1", "cross-site", null, "Sec-Fetch-Site is cross-site")]
    [InlineData("1", "same-site", null, "Sec-Fetch-Site is same-site")]
    [InlineData("1", null, "https://evil.example", "Origin is another site")]
    [InlineData("1", null, "null", "Origin is another site")]
    [InlineData("1", "same-origin", "https://app.example", null)]
    [InlineData("1", null, null, null)]
    public void A_change_must_carry_the_console_header_and_come_from_the_same_origin(string? header, string? site, string? origin, string? problem)
    {
        var context = new DefaultHttpContext();
        context.Request.Host = new HostString("app.example");
        context.Request.Method = "POST";
        if (header is not null)
        {
            context.Request.Headers[OperatorAccess.ConsoleHeader] = header;
        }

        if (site is not null)
        {
            context.Request.Headers["Sec-Fetch-Site"] = site;
        }

        if (origin is not null)
        {
            context.Request.Headers.Origin = origin;
        }

        context.Request.Headers[OperatorAccess.KeyHeader] = Key;
        var who = Access(false, Key).AuthenticateChange(context.Request, out var forged);

        Assert.Equal(problem, OperatorAccess.CrossSiteProblem(context.Request) is { } p ? problem is not null && p.Contains(problem, StringComparison.Ordinal) ? problem : p : null);
        Assert.Equal(problem is not null, forged);
        Assert.Equal(problem is null, who is not null);
    }

    [Fact]
    public void Operator_keys_must_match_exactly_and_short_configured_keys_never_match()
    {
        Assert.Equal("operator key #1", Access(false, "another-key-of-enough-length-xx", Key).Authenticate(Request((OperatorAccess.KeyHeader, Key)))?.Name);
        Assert.Null(Access(false, Key).Authenticate(Request((OperatorAccess.KeyHeader, Key + "x"))));
        Assert.Null(Access(false, "short").Authenticate(Request((OperatorAccess.KeyHeader, "short"))));
        // A wrong key is refused even when a valid principal rides along: a key, once presented, decides.
        Assert.Null(Access(true, Key).Authenticate(Request((OperatorAccess.KeyHeader, "wrong"), (OperatorAccess.PrincipalHeader, Principal(WithRole)))));
    }

    private sealed class StaticOptions(ConsoleOptions value) : IOptionsMonitor<ConsoleOptions>
    {
        public ConsoleOptions CurrentValue => value;

        public ConsoleOptions Get(string? name) => value;

        public IDisposable? OnChange(Action<ConsoleOptions, string?> listener) => null;
    }
}
