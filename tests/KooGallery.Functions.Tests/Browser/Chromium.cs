using Microsoft.Playwright;

namespace KooGallery.Functions.Tests.Browser;

/// <summary>
/// A real headless Chromium driven by Playwright: Debian's <c>chromium</c> package (installed by
/// scripts/test.sh and .ci/run; Playwright's own browser download cannot work here), found at
/// <c>KOOGALLERY_CHROMIUM</c> or /usr/bin/chromium.
/// </summary>
public static class Chromium
{
    public const string PathVariable = "KOOGALLERY_CHROMIUM";

    public static string ExecutablePath =>
        Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } configured ? configured : "/usr/bin/chromium";

    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            throw new InvalidOperationException($"Chromium is not installed at {ExecutablePath}: run scripts/test.sh (it installs Debian's chromium package) or set {PathVariable}.");
        }

        var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
        return (playwright, browser);
    }
}

/// <summary>
/// The browser tests run one class at a time (each still runs beside the other tests): several Chromiums, apps and
/// identity providers at once on a 2-core machine made a page miss Playwright's 30-second wait.
/// </summary>
[CollectionDefinition(Name)]
public sealed class BrowserTestsRunOneAtATime
{
    public const string Name = "Browser";
}
