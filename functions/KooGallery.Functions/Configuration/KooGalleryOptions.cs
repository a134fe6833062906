using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Configuration;

/// <summary>Settings of the production interface, bound from the <c>KooGallery</c> section.</summary>
public sealed class KooGalleryOptions
{
    public const string Section = "KooGallery";

    /// <summary>
    /// The Key(s) bound to the production address in the seller console (app settings
    /// <c>KooGallery__Keys__0</c>, <c>KooGallery__Keys__1</c> …). Any Key verifies a request; the first
    /// signs answers — so a rotation adds the new Key first and removes the old one once KooGallery uses it.
    /// </summary>
    public List<string> Keys { get; set; } = [];

    /// <summary>
    /// The Key(s) of the joint-operation kit interfaces (§3.2: Huawei keeps it apart from the basic Key),
    /// <c>KooGallery__KitKeys__0</c> …, rotated like <see cref="Keys"/>. Empty: the kit syncs use <see cref="Keys"/>.
    /// </summary>
    public List<string> KitKeys { get; set; } = [];

    /// <summary>How far a request <c>timestamp</c> may be from our clock, either side (§3.1: 60 s).</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a nonce is remembered; must outlast the whole timestamp window.</summary>
    public TimeSpan NonceRetention { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Time we allow ourselves per callback before answering <c>000005</c>; below KooGallery's 5-second
    /// client timeout so it gets a retryable answer rather than a timeout.
    /// </summary>
    public TimeSpan CallbackBudget { get; set; } = TimeSpan.FromSeconds(4);
}

/// <summary>Fails start-up with a message naming the app setting to fix.</summary>
internal sealed class KooGalleryOptionsValidator : IValidateOptions<KooGalleryOptions>
{
    public ValidateOptionsResult Validate(string? name, KooGalleryOptions options)
    {
        var failures = new List<string>();
        if (options.Keys.Count == 0 || options.Keys.Any(string.IsNullOrWhiteSpace))
        {
            failures.Add(
                "KooGallery Key missing: set the app setting KooGallery__Keys__0 (configuration key KooGallery:Keys:0) " +
                "to the Key bound to the production address in the KooGallery seller console; add KooGallery__Keys__1 … " +
                "while rotating. Every configured Key must be non-empty.");
        }

        if (options.KitKeys.Any(string.IsNullOrWhiteSpace))
        {
            failures.Add("Every configured kit Key (KooGallery__KitKeys__0 …) must be non-empty.");
        }

        if (options.MaxClockSkew < TimeSpan.FromSeconds(1) || options.MaxClockSkew > TimeSpan.FromMinutes(15))
        {
            failures.Add("KooGallery__MaxClockSkew must be between 00:00:01 and 00:15:00.");
        }

        if (options.NonceRetention < 2 * options.MaxClockSkew)
        {
            failures.Add("KooGallery__NonceRetention must be at least twice KooGallery__MaxClockSkew, or a replay could outlive its nonce.");
        }

        if (options.CallbackBudget < TimeSpan.FromMilliseconds(500) || options.CallbackBudget >= TimeSpan.FromSeconds(5))
        {
            failures.Add("KooGallery__CallbackBudget must be at least 00:00:00.5 and under KooGallery's 5-second timeout.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
