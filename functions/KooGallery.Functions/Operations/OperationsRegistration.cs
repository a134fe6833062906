using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Operations;

/// <summary>Registers the operator console and its access rules.</summary>
public static class OperationsRegistration
{
    public static IServiceCollection AddOperations(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ConsoleOptions>().Bind(configuration.GetSection(ConsoleOptions.Section));
        services.AddSingleton<OperatorAccess>();
        services.AddSingleton<OperatorConsole>();
        return services;
    }
}
