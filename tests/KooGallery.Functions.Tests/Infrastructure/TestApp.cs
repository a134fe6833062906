using System.Text.Json;
using KooGallery.Functions.Storage;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>
/// The app's real host, built by the same <see cref="KooGalleryApp.Configure"/> that Program.cs calls,
/// with local.settings.sample.json as configuration, Azurite as storage, unique table and queue names,
/// a fake clock, and the hosted services (gRPC worker channel, start-up tasks) removed.
/// </summary>
public sealed class TestApp : IAsyncDisposable
{
    public const string Key = "test-key-0123456789";

    public const string KitKey = "test-kit-key-9876543210";

    private TestApp(IHost host, FakeTimeProvider clock, IReadOnlyDictionary<string, string?> settings)
    {
        Host = host;
        Clock = clock;
        Settings = settings;
    }

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public FakeTimeProvider Clock { get; }

    public IReadOnlyDictionary<string, string?> Settings { get; }

    /// <summary>Settings from local.settings.sample.json (Values), as the app reads them locally.</summary>
    public static Dictionary<string, string?> SampleSettings()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "local.settings.sample.json")));
        return document.RootElement.GetProperty("Values").EnumerateObject()
            .ToDictionary(p => p.Name.Replace("__", ":", StringComparison.Ordinal), p => (string?)p.Value.GetString());
    }

    /// <summary>Builds the host without starting it or touching storage (used for start-up checks).</summary>
    public static IHost BuildHost(IDictionary<string, string?> settings, Action<IServiceCollection>? services = null)
    {
        var builder = FunctionsApplication.CreateBuilder([]);
        builder.Configuration.AddInMemoryCollection(settings);
        KooGalleryApp.Configure(builder);
        builder.Services.RemoveAll<IHostedService>();
        services?.Invoke(builder.Services);
        return builder.Build();
    }

    public static async Task<TestApp> StartAsync(
        Action<Dictionary<string, string?>>? configure = null,
        Action<IServiceCollection>? services = null,
        bool createStorage = true,
        FakeTimeProvider? clock = null)
    {
        var azurite = await Azurite.InstanceAsync().ConfigureAwait(false);
        var run = Guid.NewGuid().ToString("N")[..10];
        var settings = SampleSettings();
        settings["AzureWebJobsStorage"] = azurite.ConnectionString;
        settings["KooGallery:Keys:0"] = Key;
        settings["Storage:NonceTable"] = $"Nonces{run}";
        settings["Storage:TenantTable"] = $"Tenants{run}";
        settings["Storage:InstanceTable"] = $"Instances{run}";
        settings["KooGalleryLifecycleQueue"] = $"lifecycle-{run}";
        settings["Storage:UsageTable"] = $"Usage{run}";
        settings["Storage:ScheduleTable"] = $"Schedule{run}";
        settings["Storage:LicenseTable"] = $"Licenses{run}";
        settings["Storage:JointTable"] = $"Joint{run}";
        settings["Storage:OperationsTable"] = $"Operations{run}";
        settings["KooGallery:KitKeys:0"] = KitKey;
        settings["KooGalleryLicenseQueue"] = $"licenses-{run}";
        settings["KooGalleryKitQueue"] = $"kit-{run}";
        settings["KooGalleryUsageQueue"] = $"usage-{run}";
        // Fast back-off so retry tests take milliseconds; the policies themselves are the production ones.
        settings["OutboundHttp:RetryBaseDelay"] = "00:00:00.020";
        settings["OutboundHttp:AttemptTimeout"] = "00:00:05";
        configure?.Invoke(settings);

        // Starts at the real time so that peers on the real clock (the open-API emulator, the fake tenant
        // API) agree with signatures made by the app; tests move it forward explicitly. Whole seconds, so
        // timestamps formatted in ms or s land exactly where a test puts them.
        clock ??= NewClock();
        var host = BuildHost(settings, s =>
        {
            s.Replace(ServiceDescriptor.Singleton<TimeProvider>(clock));
            services?.Invoke(s);
        });
        if (createStorage)
        {
            await host.Services.GetRequiredService<StorageInitializer>().EnsureCreatedAsync(CancellationToken.None).ConfigureAwait(false);

            // A new table has no instance from before the indexes: the readers use them from the start.
            await host.Services.GetRequiredService<Instances.InstanceRepository>().BackfillIndexAsync(CancellationToken.None).ConfigureAwait(false);
        }

        return new TestApp(host, clock, settings);
    }

    public static FakeTimeProvider NewClock() => new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));

    /// <summary>Creates a function class the way the worker does: constructor injection from the host.</summary>
    public T Function<T>() where T : class => ActivatorUtilities.CreateInstance<T>(Services);

    /// <summary>Every class of the app with a [Function] method.</summary>
    public static IReadOnlyList<Type> FunctionClasses() =>
        typeof(KooGalleryApp).Assembly.GetTypes()
            .Where(t => t.GetMethods().Any(m => m.GetCustomAttributes(typeof(FunctionAttribute), false).Length > 0))
            .ToList();

    public async ValueTask DisposeAsync()
    {
        if (Host is IAsyncDisposable asyncDisposable)
        {
            await asyncDisposable.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            Host.Dispose();
        }
    }
}
