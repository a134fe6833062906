using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Configuration;

/// <summary>How every area binds its settings: from its section, checked by its validator when the app starts.</summary>
public static class OptionsRegistration
{
    /// <summary>
    /// The settings every area shares: the production interface's Keys, clock window and budget, and the check that no Key Vault
    /// reference was left unresolved by the platform (it would otherwise be used as the secret itself).
    /// </summary>
    public static IServiceCollection AddKooGalleryOptions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<UnresolvedReferences>().ValidateOnStart();
        services.AddSingleton<IValidateOptions<UnresolvedReferences>, UnresolvedReferencesValidator>();
        services.AddValidatedOptions<KooGalleryOptions, KooGalleryOptionsValidator>(configuration, KooGalleryOptions.Section);
        return services;
    }

    /// <summary>A bad setting stops the app at start naming the setting, never at the first callback.</summary>
    public static OptionsBuilder<TOptions> AddValidatedOptions<TOptions, TValidator>(this IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
        return services.AddOptions<TOptions>().Bind(configuration.GetSection(section)).ValidateOnStart();
    }
}
