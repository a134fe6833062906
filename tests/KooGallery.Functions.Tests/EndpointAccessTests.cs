using System.Reflection;
using System.Text;
using KooGallery.Functions.Operations;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Every operations endpoint, taken from the app's own function attributes (so a new one cannot be missed): it is
/// either behind the Functions host's master key, or checks the caller itself — and then refuses the anonymous, a
/// forged principal where platform authentication is off, a principal without the operator role, a wrong key, and
/// (for changes) a request another site could have forged. Deleting any one check fails this test.
/// </summary>
public class EndpointAccessTests
{
    private const string WithRole = """{"auth_typ":"aad","name_typ":"name","role_typ":"roles","claims":[{"typ":"name","val":"Ann"},{"typ":"roles","val":"KooGallery.Operator"}]}""";
    private const string WithoutRole = """{"auth_typ":"aad","name_typ":"name","role_typ":"roles","claims":[{"typ":"name","val":"Bob"},{"typ":"roles","val":"Reader"}]}""";

    /// <summary>Every [Function] whose HTTP route is under <c>ops/</c>: (class, method, level, verbs, route).</summary>
    public static TheoryData<string> OperationsEndpoints()
    {
        var data = new TheoryData<string>();
        foreach (var endpoint in Endpoints())
        {
            data.Add(endpoint.Name);
        }

        return data;
    }

    private sealed record Endpoint(string Name, Type Type, MethodInfo Method, AuthorizationLevel Level, string[] Verbs, string Route);

    private static IEnumerable<Endpoint> Endpoints() =>
        from type in TestApp.FunctionClasses()
        from method in type.GetMethods()
        let function = method.GetCustomAttribute<FunctionAttribute>()
        where function is not null
        from parameter in method.GetParameters()
        let trigger = parameter.GetCustomAttribute<HttpTriggerAttribute>()
        where trigger?.Route is { } route && route.StartsWith("ops/", StringComparison.Ordinal)
        select new Endpoint(function.Name, type, method, trigger.AuthLevel, trigger.Methods ?? [], trigger.Route!);

    [Fact]
    public void There_are_operations_endpoints_of_both_kinds()
    {
        var all = Endpoints().ToList();
        Assert.Contains(all, e => e.Level == AuthorizationLevel.Admin);
        Assert.True(all.Count(e => e.Level == AuthorizationLevel.Anonymous) >= 6, string.Join(", ", all.Select(e => e.Name)));
        Assert.DoesNotContain(all, e => e.Level is AuthorizationLevel.Function or AuthorizationLevel.User);
    }

    [Theory]
    [MemberData(nameof(OperationsEndpoints))]
    public async Task An_operations_endpoint_is_behind_the_master_key_or_refuses_everyone_but_an_operator(string name)
    {
        var endpoint = Endpoints().Single(e => e.Name == name);
        if (endpoint.Level == AuthorizationLevel.Admin)
        {
            return; // the Functions host checks the master key before the app runs
        }

        Assert.Equal(AuthorizationLevel.Anonymous, endpoint.Level);
        Assert.StartsWith("ops/console/", endpoint.Route, StringComparison.Ordinal);
        var change = endpoint.Verbs.Any(v => !string.Equals(v, "get", StringComparison.OrdinalIgnoreCase));
        var key = TestApp.SampleSettings()["Console:OperatorKeys:0"]!;

        // Platform authentication off (as locally): a principal header is just text a caller wrote.
        await using (var off = await TestApp.StartAsync())
        {
            await AssertRefused(off, endpoint, change ? 403 : 401, "anonymous"); // a change without the console header is refused before anything else
            await AssertRefused(off, endpoint, 401, "a forged principal", (OperatorAccess.PrincipalHeader, Principal(WithRole)), (OperatorAccess.ConsoleHeader, "1"));
            await AssertRefused(off, endpoint, 401, "a wrong key", (OperatorAccess.KeyHeader, key + "-wrong"), (OperatorAccess.ConsoleHeader, "1"));
            if (change)
            {
                await AssertRefused(off, endpoint, 403, "no console header", (OperatorAccess.KeyHeader, key));
                await AssertRefused(off, endpoint, 403, "a cross-site POST", (OperatorAccess.KeyHeader, key), (OperatorAccess.ConsoleHeader, "1"), ("Origin", "https://evil.example"), ("Sec-Fetch-Site", "cross-site"));
            }

            // The control: the same call from the console page with the key gets through the check.
            var allowed = await CallAsync(off, endpoint, (OperatorAccess.KeyHeader, key), (OperatorAccess.ConsoleHeader, "1"), ("Sec-Fetch-Site", "same-origin"));
            Assert.True(allowed is not (401 or 403), $"{endpoint.Name}: an operator was refused ({allowed})");
        }

        // Platform authentication on, as in Azure: a principal without the operator role is refused.
        await using var on = await TestApp.StartAsync(s =>
        {
            s["Console:PlatformAuthentication"] = "true";
            s[OperatorAccess.PlatformAuthSetting] = "True";
        });
        await AssertRefused(on, endpoint, 401, "a principal without the role", (OperatorAccess.PrincipalHeader, Principal(WithoutRole)), (OperatorAccess.ConsoleHeader, "1"));
        var signedIn = await CallAsync(on, endpoint, (OperatorAccess.PrincipalHeader, Principal(WithRole)), (OperatorAccess.ConsoleHeader, "1"));
        Assert.True(signedIn is not (401 or 403), $"{endpoint.Name}: a signed-in operator was refused ({signedIn})");
    }

    private static async Task AssertRefused(TestApp app, Endpoint endpoint, int expected, string who, params (string Name, string Value)[] headers)
    {
        var status = await CallAsync(app, endpoint, headers);
        Assert.True(status == expected, $"{endpoint.Name} answered {status} to {who}, not {expected}");
    }

    private static async Task<int> CallAsync(TestApp app, Endpoint endpoint, params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = endpoint.Verbs.FirstOrDefault()?.ToUpperInvariant() ?? "GET";
        context.Request.Host = new HostString("app.example");
        context.Request.QueryString = new QueryString("?q=nothing-here");
        foreach (var (name, value) in headers)
        {
            context.Request.Headers[name] = value;
        }

        var target = ActivatorUtilitiesCreate(app, endpoint.Type);
        var arguments = endpoint.Method.GetParameters().Select(p =>
            p.ParameterType == typeof(HttpRequest) ? context.Request
            : p.ParameterType == typeof(CancellationToken) ? CancellationToken.None
            : (object?)"no-such-id").ToArray();
        var result = endpoint.Method.Invoke(target, arguments);
        var actionResult = result switch
        {
            Task<IActionResult> task => await task,
            IActionResult done => done,
            _ => throw new InvalidOperationException($"{endpoint.Name} returned {result?.GetType().Name}"),
        };
        return actionResult switch
        {
            ObjectResult o => o.StatusCode ?? 200,
            StatusCodeResult s => s.StatusCode,
            _ => 200,
        };
    }

    private static object ActivatorUtilitiesCreate(TestApp app, Type type) =>
        Microsoft.Extensions.DependencyInjection.ActivatorUtilities.CreateInstance(app.Services, type);

    private static string Principal(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json));
}
