using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.ApplicationInsights;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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
}
