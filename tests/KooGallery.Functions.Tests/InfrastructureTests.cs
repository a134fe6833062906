using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.Azure.Functions.Worker;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Keeps infra/ from drifting away from the code: every setting, table, queue and trigger setting the app
/// uses is provisioned by the Bicep, secrets arrive as Key Vault references, and every log line an alert or
/// the workbook looks for is still logged by the app.
/// </summary>
public partial class InfrastructureTests
{
    private static string Read(string relative) => File.ReadAllText(Path.Combine(RepositoryRoot.Path, relative));

    private static readonly string Main = Read("infra/main.bicep");
    private static readonly string FunctionApp = Read("infra/modules/functionapp.bicep");

    private static List<string> SampleSettings()
    {
        using var document = JsonDocument.Parse(Read("local.settings.sample.json"));
        return document.RootElement.GetProperty("Values").EnumerateObject().Select(p => p.Name).ToList();
    }

    private static bool Provisions(string setting) =>
        Regex.IsMatch(Main + FunctionApp, $@"(^|[\s{{,]){Regex.Escape(setting)}\s*:", RegexOptions.Multiline);

    [Fact]
    public void Every_setting_of_the_sample_is_provisioned_by_the_bicep()
    {
        var missing = SampleSettings().Where(setting => setting switch
        {
            // Flex Consumption sets the runtime in functionAppConfig and refuses it as an app setting.
            "FUNCTIONS_WORKER_RUNTIME" => !FunctionApp.Contains("name: 'dotnet-isolated'", StringComparison.Ordinal) || Provisions(setting),
            // Identity-based storage instead of a connection string.
            "AzureWebJobsStorage" => !(Provisions("AzureWebJobsStorage__accountName") && Provisions("AzureWebJobsStorage__credential") && Provisions("AzureWebJobsStorage__clientId")),
            _ => !Provisions(setting),
        }).ToList();

        Assert.True(missing.Count == 0, "Not provisioned by infra/: " + string.Join(", ", missing));
    }

    [Fact]
    public void Only_plans_that_run_on_identity_based_storage_are_offered()
    {
        // Elastic Premium needs a content share reached with an account key; the storage account forbids keys.
        Assert.DoesNotContain("ElasticPremium", Main + FunctionApp, StringComparison.Ordinal);
        Assert.DoesNotContain("WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", Main + FunctionApp, StringComparison.Ordinal);
        Assert.Contains("allowSharedKeyAccess: false", Read("infra/modules/storage.bicep"), StringComparison.Ordinal);
        Assert.Contains("tier: 'FlexConsumption'", FunctionApp, StringComparison.Ordinal);
    }

    [Fact]
    public void Private_networking_closes_storage_and_the_vault_and_puts_the_app_on_the_network()
    {
        Assert.Contains("param privateNetworking bool = false", Main, StringComparison.Ordinal);
        Assert.Contains("module network 'modules/network.bicep' = if (privateNetworking)", Main, StringComparison.Ordinal);
        foreach (var module in new[] { "infra/modules/storage.bicep", "infra/modules/keyvault.bicep" })
        {
            Assert.Contains("publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'", Read(module), StringComparison.Ordinal);
        }

        var network = Read("infra/modules/network.bicep");
        foreach (var group in new[] { "blob", "queue", "table", "vault" })
        {
            Assert.Contains($"group: '{group}'", network, StringComparison.Ordinal);
        }

        Assert.Contains("virtualNetworkSubnetId: empty(subnetId) ? null : subnetId", FunctionApp, StringComparison.Ordinal);
    }

    [Fact]
    public void Console_sign_in_lets_KooGallery_through_and_the_principal_is_trusted_only_with_it()
    {
        // KooGallery's callbacks carry no Entra token: authentication must not turn them away.
        Assert.Contains("unauthenticatedClientAction: 'AllowAnonymous'", FunctionApp, StringComparison.Ordinal);
        Assert.Contains("requireAuthentication: false", FunctionApp, StringComparison.Ordinal);
        Assert.Contains("resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (!empty(operatorAppClientId))", FunctionApp, StringComparison.Ordinal);
        Assert.Contains("Console__PlatformAuthentication: empty(operatorAppClientId) ? 'false' : 'true'", Main, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_table_and_queue_the_app_uses_is_created_by_the_bicep()
    {
        var defaults = new StorageOptions();
        var tables = Regex.Match(Main, @"var tableNames = \[(?<list>[^\]]*)\]").Groups["list"].Value;
        var queues = Regex.Match(Main, @"var queueNames = \[(?<list>[^\]]*)\]").Groups["list"].Value;

        Assert.All(defaults.Tables, t => Assert.Contains($"'{t}'", tables, StringComparison.Ordinal));
        Assert.All(defaults.Queues, q => Assert.Contains($"'{q}'", queues, StringComparison.Ordinal));
        Assert.Contains("tableNames: tableNames", Main, StringComparison.Ordinal);
        Assert.Contains("queueNames: queueNames", Main, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_setting_a_trigger_names_exists_in_the_sample_and_the_bicep()
    {
        var referenced = typeof(KooGalleryApp).Assembly.GetTypes()
            .SelectMany(t => t.GetMethods())
            .SelectMany(m => m.GetParameters())
            .SelectMany(p => p.GetCustomAttributes())
            .SelectMany(a => a switch
            {
                QueueTriggerAttribute q => [q.QueueName],
                TimerTriggerAttribute t => [t.Schedule],
                _ => Array.Empty<string>(),
            })
            .SelectMany(value => SettingReference().Matches(value).Select(m => m.Groups["name"].Value))
            .Distinct()
            .ToList();

        Assert.NotEmpty(referenced);
        Assert.All(referenced, name =>
        {
            Assert.Contains(name, SampleSettings());
            Assert.True(Provisions(name), $"{name} is not provisioned by infra/");
        });
    }

    [Theory]
    [InlineData("KooGallery__Keys__0", "koogallery-key")]
    [InlineData("Credentials__Keys__0", "credential-key")]
    [InlineData("Marketplace__AccessKey", "marketplace-access-key")]
    [InlineData("Marketplace__SecretKey", "marketplace-secret-key")]
    [InlineData("Provisioning__Webhook__Secret", "tenant-webhook-secret")]
    public void Secrets_reach_the_app_as_key_vault_references(string setting, string secret)
    {
        Assert.Matches($@"{Regex.Escape(setting)}:.*kvRef\(keyVaultName, '{Regex.Escape(secret)}'\)", FunctionApp);
        Assert.DoesNotMatch($@"(?m)^\s*{Regex.Escape(setting)}:", Main); // never as a plain value
    }

    [Fact]
    public void The_parameters_file_holds_no_secret()
    {
        using var document = JsonDocument.Parse(Read("infra/main.parameters.json"));
        var secure = SecureParams().Matches(Main).Select(m => m.Groups["name"].Value).ToList();

        Assert.NotEmpty(secure);
        foreach (var name in secure)
        {
            var value = document.RootElement.GetProperty("parameters").GetProperty(name).GetProperty("value").GetString();
            Assert.Matches(@"^\$\{[A-Z_]+\}$", value);
        }
    }

    [Fact]
    public void Every_log_line_an_alert_or_the_workbook_queries_is_still_logged()
    {
        var kql = Read("infra/modules/alerts.bicep") + Read("infra/modules/workbook.bicep");
        var source = string.Join('\n', Directory.EnumerateFiles(Path.Combine(RepositoryRoot.Path, "functions"), "*.cs", SearchOption.AllDirectories).Select(File.ReadAllText));
        var templates = LoggedTemplate().Matches(kql).Select(m => m.Groups["template"].Value).Distinct().ToList();

        Assert.True(templates.Count >= 6, "expected the alert and workbook queries to key on log templates");
        Assert.All(templates, t => Assert.True(source.Contains('"' + t, StringComparison.Ordinal), $"no log message starts with \"{t}\""));
    }

    [Fact]
    public void A_failed_dial_test_raises_an_alert_and_its_timer_and_address_are_provisioned()
    {
        var alerts = Read("infra/modules/alerts.bicep");
        Assert.Contains($"availabilityResults | where name == \"{DialTest.DialTestAvailability.RunName}\" and success == false", alerts, StringComparison.Ordinal);
        Assert.Contains($"{DialTest.DialTestOptions.ScheduleSetting}: dialTestSchedule", Main, StringComparison.Ordinal);
        Assert.Contains("param dialTestSchedule string = '0 */15 * * * *'", Main, StringComparison.Ordinal);
        Assert.Contains("DialTest__Url: dialTestUrl", Main, StringComparison.Ordinal);
        Assert.Contains("\"dialTestUrl\": { \"value\": \"${KOOGALLERY_DIAL_TEST_URL}\" }", Read("infra/main.parameters.json"), StringComparison.Ordinal);
    }

    /// <summary>
    /// What azd deploys is what <c>dotnet publish</c> makes of the csproj: it must be ReadyToRun for linux-x64 (Flex
    /// Consumption), so a cold start skips most JIT work. Published into a temporary folder, build output included.
    /// </summary>
    [Fact]
    public async Task The_app_publishes_ready_to_run_for_linux_x64()
    {
        var work = Path.Combine(Path.GetTempPath(), "kg-publish-" + Guid.NewGuid().ToString("N")[..8]);
        var output = Path.Combine(work, "out");
        try
        {
            var start = new System.Diagnostics.ProcessStartInfo("dotnet")
            {
                ArgumentList = { "publish", Path.Combine(RepositoryRoot.Path, "functions", "KooGallery.Functions", "KooGallery.Functions.csproj"), "-c", "Release", "-o", output, "--artifacts-path", Path.Combine(work, "artifacts"), "-v", "q", "-nologo" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var publish = System.Diagnostics.Process.Start(start)!;
            var said = Task.WhenAll(publish.StandardOutput.ReadToEndAsync(), publish.StandardError.ReadToEndAsync());
            await publish.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
            Assert.True(publish.ExitCode == 0, string.Join('\n', await said));

            foreach (var dll in new[] { "KooGallery.Functions.dll", "KooGallery.Protocol.dll" })
            {
                using var pe = new System.Reflection.PortableExecutable.PEReader(File.OpenRead(Path.Combine(output, dll)));
                Assert.True(pe.PEHeaders.CorHeader!.ManagedNativeHeaderDirectory.Size > 0, $"{dll} is not ReadyToRun");
            }

            Assert.Contains("\"name\": \".NETCoreApp,Version=v10.0/linux-x64\"", File.ReadAllText(Path.Combine(output, "KooGallery.Functions.deps.json")), StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(work))
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    [GeneratedRegex("%(?<name>[A-Za-z0-9_:]+)%")]
    private static partial Regex SettingReference();

    [GeneratedRegex(@"@secure\(\)\s*(?:@description\('(?:[^'\\]|\\.)*'\)\s*)?param (?<name>\w+)")]
    private static partial Regex SecureParams();

    [GeneratedRegex(@"startswith ""(?<template>[^""]+)""")]
    private static partial Regex LoggedTemplate();
}
