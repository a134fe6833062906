using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Configuration;

/// <summary>
/// Names of the tables and queues the app uses (section <c>Storage</c>). The account itself is the
/// Functions host's <c>AzureWebJobsStorage</c>, by connection string or by identity.
/// </summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>Nonces of accepted callbacks, for replay protection.</summary>
    public string NonceTable { get; set; } = "KooGalleryNonces";

    /// <summary>Tenants of the built-in provisioner.</summary>
    public string TenantTable { get; set; } = "KooGalleryTenants";

    /// <summary>Every table the app needs, created at start when missing.</summary>
    public IEnumerable<string> Tables => [NonceTable, TenantTable];
}

internal sealed partial class StorageOptionsValidator : IValidateOptions<StorageOptions>
{
    public ValidateOptionsResult Validate(string? name, StorageOptions options)
    {
        var bad = options.Tables.Where(t => !TableName().IsMatch(t ?? string.Empty)).ToList();
        return bad.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Invalid table name(s) under Storage__*: {string.Join(", ", bad.Select(b => $"'{b}'"))} (letters and digits, 3–63, starting with a letter).");
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{2,62}$")]
    private static partial Regex TableName();
}
