using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Security;

/// <summary>Registers the credential key that encrypts what the app keeps (instance passwords, client secrets, kept answers).</summary>
public static class SecurityRegistration
{
    public static IServiceCollection AddCredentials(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<CredentialOptions>().Bind(configuration.GetSection(CredentialOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<CredentialOptions>, CredentialOptionsValidator>();
        services.AddSingleton<CredentialProtector>();
        return services;
    }
}
