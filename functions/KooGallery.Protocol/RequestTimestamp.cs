using System.Globalization;

namespace KooGallery.Protocol;

/// <summary>
/// The V2 <c>timestamp</c> query parameter and kit <c>x-timestamp</c> header. The docs say "seconds"
/// while every example and Huawei's demo send 13-digit milliseconds (§3.1, §9 Q2); both are
/// accepted here, told apart by their digit count — this is the one place that decides it.
/// </summary>
public static class RequestTimestamp
{
    public static bool TryParse(string? value, out DateTimeOffset instant)
    {
        instant = default;
        if (string.IsNullOrEmpty(value) || !value.All(char.IsAsciiDigit))
        {
            return false;
        }

        if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            return false;
        }

        try
        {
            switch (value.Length)
            {
                case 13:
                    instant = DateTimeOffset.FromUnixTimeMilliseconds(number);
                    return true;
                case 10:
                    instant = DateTimeOffset.FromUnixTimeSeconds(number);
                    return true;
                default:
                    return false;
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }

    /// <summary>True when <paramref name="instant"/> lies within <paramref name="maxSkew"/> of <paramref name="now"/>, either side.</summary>
    public static bool IsWithin(DateTimeOffset instant, DateTimeOffset now, TimeSpan maxSkew) =>
        (now - instant).Duration() <= maxSkew;

    /// <summary>The 13-digit millisecond form KooGallery sends.</summary>
    public static string Format(DateTimeOffset instant) =>
        instant.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
}
