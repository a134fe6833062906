using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Security;

/// <summary>Registers the credential key that encrypts what the app keeps (instance passwords, client secrets, kept answers).</summary>
public static class SecurityRegistration
{
    public static IServiceCollection AddCredentials(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<CredentialOptions, CredentialOptionsValidator>(configuration, CredentialOptions.Section);
        services.AddSingleton<CredentialProtector>();
        return services;
    }
}
