using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Configuration;

/// <summary>
/// A Key Vault reference that App Service could not resolve (the identity lacks the role, the secret or vault
/// is gone) reaches the app as its literal text, <c>@Microsoft.KeyVault(…)</c> — which would then be used as a
/// Key, a password or an AK. The app refuses to start instead, naming every such setting (never its value).
/// </summary>
public sealed class UnresolvedReferences
{
    public const string Marker = "@Microsoft.KeyVault(";
}

internal sealed class UnresolvedReferencesValidator(IConfiguration configuration) : IValidateOptions<UnresolvedReferences>
{
    public ValidateOptionsResult Validate(string? name, UnresolvedReferences options)
    {
        var unresolved = configuration.AsEnumerable()
            .Where(kv => kv.Value?.TrimStart().StartsWith(UnresolvedReferences.Marker, StringComparison.OrdinalIgnoreCase) == true)
            .Select(kv => kv.Key.Replace(":", "__", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        return unresolved.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(
                $"Unresolved Key Vault reference(s) in {string.Join(", ", unresolved)}: App Service could not read the secret(s). " +
                "Check that the app's identity has the Key Vault Secrets User role and that each secret exists (docs/operations.md).");
    }
}
