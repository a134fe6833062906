namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>
/// How much a generated test plays: its own small figure in CI, or more when hunting by hand —
/// <c>KOOGALLERY_FUZZ_ITERATIONS</c> (e.g. 40000) for the fuzz tests, <c>KOOGALLERY_MODEL_SECONDS</c> (e.g. 600)
/// for the metering model.
/// </summary>
public static class LongerHunt
{
    public static int Iterations(int inCi) => Or("KOOGALLERY_FUZZ_ITERATIONS", inCi);

    public static int Seconds(int inCi) => Or("KOOGALLERY_MODEL_SECONDS", inCi);

    private static int Or(string variable, int inCi) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), out var n) && n > 0 ? n : inCi;
}
