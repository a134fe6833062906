using System.Text;
using KooGallery.Functions.Operations;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Tests;

/// <summary>Who the console lets in: a platform principal with the operator role, or an operator key; nobody else.</summary>
public class OperatorAccessTests
{
    private const string Key = "an-operator-key-of-enough-length";

    private static OperatorAccess Access(bool platform, params string[] keys) =>
        new(new StaticOptions(new ConsoleOptions { PlatformAuthentication = platform, OperatorKeys = [.. keys] }));

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
    public void The_principal_header_is_ignored_unless_the_platform_sets_it() =>
        Assert.Null(Access(platform: false).Authenticate(Request((OperatorAccess.PrincipalHeader, Principal(WithRole)))));

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
