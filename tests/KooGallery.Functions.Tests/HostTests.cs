using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.ApplicationInsights;
using Microsoft.ApplicationInsights.Extensibility;
using Microsoft.ApplicationInsights.WindowsServer.TelemetryChannel;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Builds the real host from Program.cs's registration. This is the only kind of test that catches
/// start-up failures such as mismatched Application Insights packages (TypeLoadException at start).
/// </summary>
public class HostTests
{
    [Fact]
    public async Task Host_builds_from_the_sample_settings_and_resolves_every_function_class()
    {
        using var host = TestApp.BuildHost(TestApp.SampleSettings());
        await host.StartAsync(); // runs ValidateOnStart with the sample settings

        var functions = TestApp.FunctionClasses();
        Assert.Contains(typeof(ProductionInterface), functions);
        Assert.Contains(typeof(NoncePurge), functions);
        foreach (var type in functions)
        {
            Assert.NotNull(ActivatorUtilities.CreateInstance(host.Services, type));
        }

        await host.StopAsync();
    }

    [Fact]
    public void Application_insights_is_wired_into_the_host()
    {
        using var host = TestApp.BuildHost(TestApp.SampleSettings());

        Assert.NotNull(host.Services.GetRequiredService<TelemetryClient>());
        Assert.Contains(host.Services.GetServices<Microsoft.Extensions.Logging.ILoggerProvider>(),
            p => p.GetType().Name == "ApplicationInsightsLoggerProvider");
    }

    [Fact]
    public async Task A_missing_key_stops_the_app_at_start_naming_the_setting()
    {
        var settings = TestApp.SampleSettings();
        settings.Remove("KooGallery:Keys:0");
        using var host = TestApp.BuildHost(settings);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("KooGallery__Keys__0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sign_on_without_a_callback_address_stops_the_app_at_start_outside_development()
    {
        var settings = TestApp.SampleSettings();
        settings["Login:CallbackUrl"] = string.Empty;
        using var host = TestApp.BuildHost(settings);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Login__CallbackUrl", error.Message, StringComparison.Ordinal);
        settings.Remove("Login:TicketKeys:0");
        using var withoutSignOn = TestApp.BuildHost(settings);
        await withoutSignOn.StartAsync(); // no sign-on offered, nothing to require
        await withoutSignOn.StopAsync();
    }

    [Fact]
    public async Task An_empty_key_and_a_retention_shorter_than_the_window_are_refused()
    {
        var settings = TestApp.SampleSettings();
        settings["KooGallery:Keys:0"] = "  ";
        settings["KooGallery:NonceRetention"] = "00:01:00";
        using var host = TestApp.BuildHost(settings);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("KooGallery__Keys__0", error.Message, StringComparison.Ordinal);
        Assert.Contains("KooGallery__NonceRetention", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_table_name_is_refused_at_start()
    {
        var settings = TestApp.SampleSettings();
        settings["Storage:NonceTable"] = "nonces-table";
        using var host = TestApp.BuildHost(settings);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("nonces-table", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_up_survives_storage_that_cannot_be_reached()
    {
        var settings = TestApp.SampleSettings();
        settings["AzureWebJobsStorage"] =
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
            "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;";
        using var host = TestApp.BuildHost(settings);
        var initializer = host.Services.GetRequiredService<KooGallery.Functions.Storage.StorageInitializer>();

        // Start does not wait for storage at all; the creation keeps trying in the background, logged, never thrown,
        // and a stop ends it at once.
        await ((IHostedService)initializer).StartAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(1));
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.False(initializer.Running.IsCompleted, "the creation gave up");
        await ((IHostedService)initializer).StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(initializer.Running.IsCompleted);
    }

    [Fact]
    public async Task Starting_the_app_as_deployed_makes_no_storage_call()
    {
        var settings = TestApp.SampleSettings();
        settings["Storage:CreateAtStart"] = "false"; // as the Bicep sets it
        var calls = new StorageRoundTrips();
        using var host = AppHost(settings, calls.CountIn);

        await host.StartAsync();
        await host.StopAsync();

        Assert.Empty(calls.Calls);
    }

    [Fact]
    public async Task Locally_the_tables_and_queues_are_created_after_start_without_holding_it_up()
    {
        var settings = TestApp.SampleSettings();
        var azurite = await Azurite.InstanceAsync();
        settings["AzureWebJobsStorage"] = azurite.ConnectionString;
        var run = Guid.NewGuid().ToString("N")[..8];
        settings["Storage:OperationsTable"] = $"Operations{run}";
        var gate = new TaskCompletionSource();
        var held = new HeldStorage(gate.Task);
        using var host = AppHost(settings, s => StorageRoundTrips.WithPolicy(s, held));

        await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30)); // every storage call is held: start did not need one
        Assert.True(SpinWait.SpinUntil(() => held.Waiting > 0, TimeSpan.FromSeconds(10)), "the tables and queues are created after start");
        gate.SetResult();
        await host.Services.GetRequiredService<KooGallery.Functions.Storage.StorageInitializer>().Running;

        var tables = host.Services.GetRequiredService<Azure.Data.Tables.TableServiceClient>();
        Assert.Contains(await tables.QueryAsync(t => t.Name == $"Operations{run}").ToListAsync(), t => t.Name == $"Operations{run}");
        await host.StopAsync();
    }

    /// <summary>The app's host with its own hosted services, minus the worker's connection to a Functions host (there is none here).</summary>
    private static IHost AppHost(Dictionary<string, string?> settings, Action<IServiceCollection> services)
    {
        var builder = FunctionsApplication.CreateBuilder([]);
        builder.Configuration.AddInMemoryCollection(settings);
        KooGalleryApp.Configure(builder);
        foreach (var worker in builder.Services.Where(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType?.Namespace?.StartsWith("Microsoft.", StringComparison.Ordinal) == true).ToList())
        {
            builder.Services.Remove(worker);
        }

        services(builder.Services);
        return builder.Build();
    }

    /// <summary>Holds every storage call until released, counting those waiting.</summary>
    private sealed class HeldStorage(Task release) : Azure.Core.Pipeline.HttpPipelinePolicy
    {
        private int waiting;

        public int Waiting => Volatile.Read(ref waiting);

        public override void Process(Azure.Core.HttpMessage message, ReadOnlyMemory<Azure.Core.Pipeline.HttpPipelinePolicy> pipeline) => throw new NotSupportedException();

        public override async ValueTask ProcessAsync(Azure.Core.HttpMessage message, ReadOnlyMemory<Azure.Core.Pipeline.HttpPipelinePolicy> pipeline)
        {
            Interlocked.Increment(ref waiting);
            await release;
            await ProcessNextAsync(message, pipeline);
        }
    }

    [Fact]
    public void Log_lines_that_alerts_count_are_never_sampled_and_storage_sdk_chatter_is_kept_at_warning()
    {
        using var host = TestApp.BuildHost(TestApp.SampleSettings());

        var filters = host.Services.GetRequiredService<IOptions<LoggerFilterOptions>>().Value;
        Assert.Contains(filters.Rules, r => r.CategoryName == "Azure.Core" && r.LogLevel == LogLevel.Warning);

        var telemetry = host.Services.GetRequiredService<TelemetryConfiguration>();
        var samplers = telemetry.DefaultTelemetrySink.TelemetryProcessors.OfType<AdaptiveSamplingTelemetryProcessor>().ToList();
        Assert.NotEmpty(samplers);
        Assert.All(samplers, s =>
        {
            foreach (var type in new[] { "Trace", "Event", "Exception", "Request" })
            {
                Assert.Contains(type, s.ExcludedTypes, StringComparison.Ordinal);
            }
        });

        using var hostJson = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "host.json")));
        var logging = hostJson.RootElement.GetProperty("logging");
        Assert.Equal("Warning", logging.GetProperty("logLevel").GetProperty("Azure.Core").GetString());
        Assert.Contains("Trace", logging.GetProperty("applicationInsights").GetProperty("samplingSettings").GetProperty("excludedTypes").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_missing_or_unresolved_credential_key_stops_the_app_at_start_naming_the_setting()
    {
        var settings = TestApp.SampleSettings();
        settings["Credentials:Keys:0"] = "@Microsoft.KeyVault(VaultName=kv;SecretName=credential-key)";
        using var host = TestApp.BuildHost(settings);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Credentials__Keys__", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unresolved_key_vault_reference_in_any_setting_stops_the_app_at_start_naming_it()
    {
        var settings = TestApp.SampleSettings();
        settings["Marketplace:SecretKey"] = "@Microsoft.KeyVault(VaultName=kv-kg;SecretName=marketplace-secret-key)";
        settings["Provisioning:Webhook:Secret"] = "@Microsoft.KeyVault(VaultName=kv-kg;SecretName=tenant-webhook-secret)";
        using var host = TestApp.BuildHost(settings);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Marketplace__SecretKey", error.Message, StringComparison.Ordinal);
        Assert.Contains("Provisioning__Webhook__Secret", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("SecretName=", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, "https://stkg.table.core.windows.net/")]
    [InlineData("core.chinacloudapi.cn", null, "https://stkg.table.core.chinacloudapi.cn/")]
    [InlineData(null, "https://stkg.table.core.usgovcloudapi.net/", "https://stkg.table.core.usgovcloudapi.net/")]
    public void Storage_endpoints_follow_the_cloud_not_a_hard_coded_suffix(string? suffix, string? tableUri, string expected)
    {
        var values = new Dictionary<string, string?> { ["AzureWebJobsStorage:accountName"] = "stkg", ["AzureWebJobsStorage:clientId"] = "00000000-0000-0000-0000-000000000001" };
        if (suffix is not null)
        {
            values["AzureWebJobsStorage:endpointSuffix"] = suffix;
        }

        if (tableUri is not null)
        {
            values["AzureWebJobsStorage:tableServiceUri"] = tableUri;
        }

        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(values).Build();

        Assert.Equal(expected, KooGallery.Functions.Storage.StorageClients.CreateTableServiceClient(configuration).Uri.ToString());
    }
}
