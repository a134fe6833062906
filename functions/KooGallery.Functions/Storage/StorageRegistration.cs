using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Storage;

/// <summary>Registers the storage clients (with the wait for their tables' creation), table and queue names, the schedule index and the background table creation.</summary>
public static class StorageRegistration
{
    public static IServiceCollection AddStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<StorageOptions>()
            .Bind(configuration.GetSection(StorageOptions.Section))
            .Configure(o =>
            {
                o.LifecycleQueue = configuration[StorageOptions.LifecycleQueueSetting] ?? StorageOptions.DefaultLifecycleQueue;
                o.UsageQueue = configuration[StorageOptions.UsageQueueSetting] ?? StorageOptions.DefaultUsageQueue;
                o.LicenseQueue = configuration[StorageOptions.LicenseQueueSetting] ?? StorageOptions.DefaultLicenseQueue;
                o.KitQueue = configuration[StorageOptions.KitQueueSetting] ?? StorageOptions.DefaultKitQueue;
            })
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<StorageOptions>, StorageOptionsValidator>();

        services.AddSingleton<StorageCreationPolicy>();
        services.AddSingleton(sp => StorageClients.CreateTableServiceClient(configuration, sp.GetRequiredService<StorageCreationPolicy>()));
        services.AddSingleton(sp => StorageClients.CreateQueueServiceClient(configuration, sp.GetRequiredService<StorageCreationPolicy>()));
        services.AddSingleton<StorageInitializer>();
        services.AddSingleton<ScheduleStore>();
        services.AddHostedService(sp => sp.GetRequiredService<StorageInitializer>());
        return services;
    }
}
