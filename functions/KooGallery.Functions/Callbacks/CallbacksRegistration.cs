using KooGallery.Functions.Operations;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Callbacks;

/// <summary>Registers the production interface's pipeline: nonces, dispatch, the failed-order count, callback counters.</summary>
public static class CallbacksRegistration
{
    public static IServiceCollection AddCallbacks(this IServiceCollection services)
    {
        services.AddSingleton<NonceStore>();
        services.AddSingleton<ActivityDispatcher>();
        services.AddSingleton<FailedOrderLedger>();
        services.AddSingleton<FailedOrderResolver>();
        services.AddSingleton<CallbackCounters>();
        services.AddHostedService(sp => sp.GetRequiredService<CallbackCounters>());
        services.AddSingleton<CallbackPipeline>();
        return services;
    }
}
