using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.DialTest;

/// <summary>Registers the dial test of the app's own production address.</summary>
public static class DialTestRegistration
{
    public static IServiceCollection AddDialTest(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<DialTestOptions, DialTestOptionsValidator>(configuration, DialTestOptions.Section);
        services.AddSingleton<DialTestStore>();
        services.AddSingleton<DialTestCleanup>();
        services.AddSingleton<DialTestAvailability>();
        services.AddSingleton<DialTestRunner>();

        // A slow answer is measured against the budget, not cut at it; a hung one gives up well before the next run.
        services.AddHttpClient(DialTestRunner.HttpClientName, c => c.Timeout = TimeSpan.FromSeconds(30));
        return services;
    }
}
