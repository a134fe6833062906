using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.JointOperation;

/// <summary>Registers joint operation: the kit syncs, their notices to the merchant, and the buyer's sign-on.</summary>
public static class JointOperationRegistration
{
    public static IServiceCollection AddJointOperation(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<JointOperationOptions>().Bind(configuration.GetSection(JointOperationOptions.Section));
        services.AddSingleton<KitSyncService>();
        services.AddSingleton<KitNotifier>();
        services.AddValidatedOptions<LoginOptions, LoginOptionsValidator>(configuration, LoginOptions.Section);
        services.AddSingleton<LoginService>();

        // A single-use code must never be sent twice: no retry policy on the identity provider's client.
        services.AddHttpClient(LoginService.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(10));
        services.AddKitSyncHandlers();
        return services;
    }
}
