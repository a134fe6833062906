using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>Registers the instance life cycle: repository, recorded changes, the worker and its sender, the sweeper.</summary>
public static class InstancesRegistration
{
    public static IServiceCollection AddInstances(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<LifecycleOptions, LifecycleOptionsValidator>(configuration, LifecycleOptions.Section);
        services.AddSingleton<InstanceStateCounts>();
        services.AddHostedService(sp => sp.GetRequiredService<InstanceStateCounts>());
        services.AddSingleton<InstanceRepository>();
        services.AddSingleton<LifecycleWorkSender>();
        services.AddSingleton<InstanceLifecycle>();
        services.AddSingleton<LifecycleWorker>();
        services.AddSingleton<LifecycleSweeper>();
        services.AddLifecycleHandlers();
        return services;
    }
}
