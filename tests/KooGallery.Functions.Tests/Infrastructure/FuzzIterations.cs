namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>
/// How many generated cases a fuzz test plays: its own small figure in CI, or
/// <c>KOOGALLERY_FUZZ_ITERATIONS</c> when hunting longer by hand (e.g. 40000).
/// </summary>
public static class FuzzIterations
{
    public static int OrInCi(int inCi) =>
        int.TryParse(Environment.GetEnvironmentVariable("KOOGALLERY_FUZZ_ITERATIONS"), out var n) && n > 0 ? n : inCi;
}
