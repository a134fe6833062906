using System.Text.Json.Nodes;
using KooGallery.Functions.Marketplace;
using KooGallery.Functions.Provisioning;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.Wire;
using KooGallery.Simulator;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

public class BuiltInProvisionerTests
{
    private static KooGalleryOrder Order(string orderId = "CS1", decimal linear = 10) => new()
    {
        OrderId = orderId,
        CustomerId = "cust-1",
        OrderLines =
        [
            new KooGalleryOrderLine
            {
                OrderLineId = orderId + "-000001",
                ChargingMode = "PERIOD",
                ExpireTime = "20271129T155959Z",
                ProductInfo = [new KooGalleryProduct { ProductId = "P1", SkuCode = "S1", LinearValue = linear }],
            },
        ],
    };

    private static BuiltInTenantProvisioner Provisioner(TestApp app) => app.Services.GetRequiredService<BuiltInTenantProvisioner>();

    [Fact]
    public async Task Provisioning_creates_a_usable_tenant_once_even_when_repeated_concurrently()
    {
        await using var app = await TestApp.StartAsync();
        var provisioner = Provisioner(app);
        var request = new ProvisionTenant("inst-1", "CS1", "CS1-000001", IsTest: true, Order());

        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => provisioner.ProvisionAsync(request, CancellationToken.None)));
        var again = await provisioner.ProvisionAsync(request, CancellationToken.None);

        Assert.Single(results.Append(again).Distinct());
        Assert.Equal("https://inst-1.tenants.example.com/", again.FrontEndUrl);
        Assert.Equal("https://inst-1.tenants.example.com/admin", again.AdminUrl);
        Assert.Equal("admin", again.UserName);
        Assert.Matches("^(?=.*[A-Z])(?=.*[a-z])(?=.*[0-9])(?=.*[^A-Za-z0-9]).{16}$", again.Password);
        var stored = await provisioner.FindAsync("inst-1", CancellationToken.None);
        Assert.Equal(("P1", 10d, TenantStatus.Active), (stored!.ProductId, stored.LinearValue, stored.Status));
        Assert.Equal(new DateTimeOffset(2027, 11, 29, 15, 59, 59, TimeSpan.Zero), stored.ExpiresAt);
    }

    [Fact]
    public async Task Passwords_differ_between_tenants()
    {
        Assert.NotEqual(BuiltInTenantProvisioner.StrongPassword(), BuiltInTenantProvisioner.StrongPassword());
        await using var app = await TestApp.StartAsync(s => s["Provisioning:BuiltIn:FrontEndUrlTemplate"] = "https://app.example.com/t/{customerId}/{instanceId}");
        var a = await Provisioner(app).ProvisionAsync(new ProvisionTenant("a", "CS1", null, false, Order()), CancellationToken.None);
        var b = await Provisioner(app).ProvisionAsync(new ProvisionTenant("b", "CS2", null, false, Order("CS2")), CancellationToken.None);

        Assert.NotEqual(a.Password, b.Password);
        Assert.Equal("https://app.example.com/t/cust-1/a", a.FrontEndUrl);
    }

    [Fact]
    public async Task Life_cycle_changes_are_applied_to_the_tenant_row()
    {
        await using var app = await TestApp.StartAsync();
        var provisioner = Provisioner(app);
        await provisioner.ProvisionAsync(new ProvisionTenant("inst-2", "CS1", null, false, Order()), CancellationToken.None);
        var renewedTo = new DateTimeOffset(2028, 1, 1, 0, 0, 0, TimeSpan.FromHours(8));

        await provisioner.UpdateExpiryAsync(new UpdateTenantExpiry("inst-2", "CS-RENEW", "RENEWAL", "20280101000000", renewedTo, "P2", false), CancellationToken.None);
        await provisioner.SuspendAsync(new SuspendTenant("inst-2", "op-1", false), CancellationToken.None);
        Assert.Equal(TenantStatus.Suspended, (await provisioner.FindAsync("inst-2", CancellationToken.None))!.Status);
        await provisioner.ResumeAsync(new ResumeTenant("inst-2", "op-2", false), CancellationToken.None);
        await provisioner.UpgradeAsync(new UpgradeTenant("inst-2", "CS-UP", "CS-UP-000001", false, Order("CS-UP", linear: 20)), CancellationToken.None);

        var tenant = (await provisioner.FindAsync("inst-2", CancellationToken.None))!;
        Assert.Equal((TenantStatus.Active, renewedTo, "P1", 20d), (tenant.Status, tenant.ExpiresAt!.Value, tenant.ProductId, tenant.LinearValue));

        await provisioner.ReleaseAsync(new ReleaseTenant("inst-2", null, "op-3", false), CancellationToken.None);
        await provisioner.ReleaseAsync(new ReleaseTenant("inst-2", null, "op-3", false), CancellationToken.None);
        await provisioner.SuspendAsync(new SuspendTenant("inst-2", "op-4", false), CancellationToken.None);
        Assert.Equal(TenantStatus.Released, (await provisioner.FindAsync("inst-2", CancellationToken.None))!.Status);
        var resume = await Assert.ThrowsAsync<TenantProvisioningException>(() => provisioner.ResumeAsync(new ResumeTenant("inst-2", "op-5", false), CancellationToken.None));
        Assert.False(resume.IsTransient);
    }

    [Fact]
    public async Task Changes_to_an_unknown_tenant_fail_permanently_but_releasing_one_succeeds()
    {
        await using var app = await TestApp.StartAsync();
        var provisioner = Provisioner(app);

        var error = await Assert.ThrowsAsync<TenantProvisioningException>(() => provisioner.SuspendAsync(new SuspendTenant("nobody", "op", false), CancellationToken.None));
        await provisioner.ReleaseAsync(new ReleaseTenant("nobody", null, "op", false), CancellationToken.None);

        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task Spec_change_check_refuses_a_downgrade_below_the_current_quantity()
    {
        await using var app = await TestApp.StartAsync();
        var provisioner = Provisioner(app);
        await provisioner.ProvisionAsync(new ProvisionTenant("inst-3", "CS1", null, false, Order(linear: 10)), CancellationToken.None);

        var down = await provisioner.CheckSpecChangeAsync(new CheckTenantSpecChange("inst-3", new ChangeProductInfo("P1", "S1", "5"), "op", false), CancellationToken.None);
        var up = await provisioner.CheckSpecChangeAsync(new CheckTenantSpecChange("inst-3", new ChangeProductInfo("P1", "S1", "20"), "op", false), CancellationToken.None);

        Assert.False(down.Allowed);
        Assert.Contains("below the current", down.Reason, StringComparison.Ordinal);
        Assert.True(up.Allowed);
    }
}

/// <summary>The webhook provisioner through the app's DI, against the fake tenant API that checks the HMAC.</summary>
public class WebhookProvisionerTests
{
    private const string Secret = "tenant-webhook-secret-for-tests-0123456789";

    private static async Task<(TestApp App, FakeTenantApi Api)> StartAsync(string secret = Secret, Action<Dictionary<string, string?>>? configure = null)
    {
        var api = await FakeTenantApi.StartAsync(Secret);
        var app = await TestApp.StartAsync(s =>
        {
            s["Provisioning:Mode"] = "Webhook";
            s["Provisioning:Webhook:BaseUrl"] = api.BaseUrl.ToString();
            s["Provisioning:Webhook:Secret"] = secret;
            configure?.Invoke(s);
        });
        return (app, api);
    }

    private static ITenantProvisioner Real(TestApp app) => app.Services.GetRequiredService<TenantProvisioners>().For(isTest: false);

    private static KooGalleryOrder Order() => new() { OrderId = "CS9", OrderLines = [new KooGalleryOrderLine { OrderLineId = "CS9-000001", ChargingMode = "PERIOD" }] };

    [Fact]
    public async Task Provision_returns_the_tenant_apis_login_data_and_repeats_are_deduplicated_by_key()
    {
        var (app, api) = await StartAsync();
        await using var _ = app;
        await using var __ = api;
        var provisioner = Real(app);
        Assert.IsType<WebhookTenantProvisioner>(provisioner);

        var first = await provisioner.ProvisionAsync(new ProvisionTenant("inst-9", "CS9", "CS9-000001", false, Order()), CancellationToken.None);
        var repeat = await provisioner.ProvisionAsync(new ProvisionTenant("inst-9", "CS9", "CS9-000001", false, Order()), CancellationToken.None);

        Assert.Equal("https://inst-9.fake-tenant.example.com/", first.FrontEndUrl);
        Assert.Equal(first, repeat);
        var received = Assert.Single(api.Events);
        Assert.Equal(("provision", "inst-9:provision:CS9"), (received.Event, received.IdempotencyKey));
        Assert.Equal("CS9", received.Body["data"]!["order"]!["orderId"]!.GetValue<string>());
        Assert.False(received.Body["testFlag"]!.GetValue<bool>());
        Assert.Equal(2, api.RequestCount);
    }

    [Fact]
    public async Task Every_event_reaches_the_tenant_api_with_its_own_idempotency_key()
    {
        var (app, api) = await StartAsync();
        await using var _ = app;
        await using var __ = api;
        var provisioner = Real(app);

        await provisioner.UpdateExpiryAsync(new UpdateTenantExpiry("i", "CS-R", "RENEWAL", "20280101000000", DateTimeOffset.UnixEpoch, null, false), CancellationToken.None);
        await provisioner.SuspendAsync(new SuspendTenant("i", "nonce-1", false), CancellationToken.None);
        await provisioner.ResumeAsync(new ResumeTenant("i", "nonce-2", false), CancellationToken.None);
        await provisioner.SuspendAsync(new SuspendTenant("i", "nonce-3", false), CancellationToken.None);
        await provisioner.UpgradeAsync(new UpgradeTenant("i", "CS-U", "CS-U-000001", false, Order()), CancellationToken.None);
        await provisioner.ReleaseAsync(new ReleaseTenant("i", "CS-X", "nonce-4", false), CancellationToken.None);
        var verdict = await provisioner.CheckSpecChangeAsync(new CheckTenantSpecChange("i", new ChangeProductInfo("P", "S", "1"), "nonce-5", false), CancellationToken.None);

        Assert.True(verdict.Allowed);
        Assert.Equal(
            ["i:update-expiry:CS-R:RENEWAL", "i:suspend:nonce-1", "i:resume:nonce-2", "i:suspend:nonce-3", "i:upgrade:CS-U", "i:release:CS-X", "i:check-spec-change:nonce-5"],
            api.Events.Select(e => e.IdempotencyKey));
    }

    [Fact]
    public async Task A_refused_spec_change_is_reported()
    {
        var (app, api) = await StartAsync();
        await using var _ = app;
        await using var __ = api;
        api.AllowSpecChanges = false;

        var verdict = await Real(app).CheckSpecChangeAsync(new CheckTenantSpecChange("i", new ChangeProductInfo("P", "S", "1"), "op", false), CancellationToken.None);

        Assert.False(verdict.Allowed);
        Assert.Equal("usage exceeds the target quota", verdict.Reason);
    }

    [Fact]
    public async Task Server_errors_are_retried_and_refusals_are_not()
    {
        var (app, api) = await StartAsync();
        await using var _ = app;
        await using var __ = api;
        api.Faults.Enqueue(new Fault.ServerError(503), times: 2);

        await Real(app).SuspendAsync(new SuspendTenant("i", "op-1", false), CancellationToken.None);
        Assert.Equal(3, api.RequestCount);

        api.Faults.Enqueue(new Fault.BusinessError());
        var refused = await Assert.ThrowsAsync<TenantProvisioningException>(() => Real(app).SuspendAsync(new SuspendTenant("i", "op-2", false), CancellationToken.None));
        Assert.False(refused.IsTransient);
        Assert.Contains("HTTP 422", refused.Message, StringComparison.Ordinal);
        Assert.Equal(4, api.RequestCount);
    }

    [Fact]
    public async Task A_wrong_secret_is_rejected_by_the_tenant_api()
    {
        var (app, api) = await StartAsync(secret: "a-different-secret-that-is-long-enough-0123");
        await using var _ = app;
        await using var __ = api;

        var error = await Assert.ThrowsAsync<TenantProvisioningException>(() => Real(app).SuspendAsync(new SuspendTenant("i", "op", false), CancellationToken.None));

        Assert.Contains("HTTP 401", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("a-different-secret", error.Message, StringComparison.Ordinal);
        Assert.Empty(api.Events);
    }

    [Fact]
    public async Task Unreachable_tenant_api_is_a_transient_failure()
    {
        await using var app = await TestApp.StartAsync(s =>
        {
            s["Provisioning:Mode"] = "Webhook";
            s["Provisioning:Webhook:BaseUrl"] = "http://127.0.0.1:1/";
            s["Provisioning:Webhook:Secret"] = Secret;
            s["OutboundHttp:MaxRetries"] = "1";
        });

        var error = await Assert.ThrowsAsync<TenantProvisioningException>(() => Real(app).SuspendAsync(new SuspendTenant("i", "op", false), CancellationToken.None));

        Assert.True(error.IsTransient);
    }

    [Fact]
    public async Task A_provision_answer_without_a_front_end_url_is_a_permanent_failure()
    {
        var (app, api) = await StartAsync();
        await using var _ = app;
        await using var __ = api;
        api.ProvisionAnswer = """{"adminUrl":"https://admin.example.com","userName":"owner"}""";

        var error = await Assert.ThrowsAsync<TenantProvisioningException>(() =>
            Real(app).ProvisionAsync(new ProvisionTenant("i", "CS9", null, false, Order()), CancellationToken.None));

        Assert.False(error.IsTransient);
        Assert.Contains("frontEndUrl", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Debug_calls_always_use_the_built_in_provisioner()
    {
        var (app, api) = await StartAsync();
        await using var _ = app;
        await using var __ = api;

        var provisioner = app.Services.GetRequiredService<TenantProvisioners>().For(isTest: true);
        var info = await provisioner.ProvisionAsync(new ProvisionTenant("dbg", "MOCKPERIODYEARNEW", null, true, Order()), CancellationToken.None);

        Assert.IsType<BuiltInTenantProvisioner>(provisioner);
        Assert.Equal("https://dbg.tenants.example.com/", info.FrontEndUrl);
        Assert.Equal(0, api.RequestCount);
    }

    [Fact]
    public async Task Webhook_mode_without_a_secret_is_refused_at_start()
    {
        var settings = TestApp.SampleSettings();
        settings["Provisioning:Mode"] = "Webhook";
        settings["Provisioning:Webhook:Secret"] = "short";
        using var host = TestApp.BuildHost(settings);

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Provisioning__Webhook__Secret", error.Message, StringComparison.Ordinal);
    }
}
