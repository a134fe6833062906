using System.Text.Json;

namespace KooGallery.Protocol.Wire;

/// <summary>
/// Text in a body that cannot be text. <see cref="JsonDocument"/> accepts invalid UTF-8 inside strings and
/// escaped lone surrogates (<c>"\ud800"</c>); reading them with <see cref="JsonElement.GetString"/> then
/// throws <see cref="InvalidOperationException"/> — not a <see cref="JsonException"/> — which a catch-all
/// would answer as "our fault, retry". Checking the whole body once, before any handler reads it, makes such
/// a body a parameter error (000002) in one place.
/// </summary>
public static class WireText
{
    /// <summary>True when every property name and string value of <paramref name="element"/> reads as text.</summary>
    public static bool IsReadable(JsonElement element)
    {
        try
        {
            return Walk(element);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The string value, or null when it is not readable text (instead of throwing).</summary>
    public static string? TryGetString(JsonElement element)
    {
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static bool Walk(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    _ = property.Name;
                    if (!Walk(property.Value))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (!Walk(item))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.String:
                _ = element.GetString();
                return true;
            default:
                return true;
        }
    }
}
