using System.Text.Json;

namespace KooGallery.Protocol.Wire;

/// <summary>
/// Tolerant field access on a JSON object: unknown fields are ignored, numbers are accepted where the
/// spec says String (kit bodies send <c>testFlag</c> as a number), and the first problem — a missing
/// mandatory field, a wrong type or a value over its maximum length — is kept as <see cref="Error"/>.
/// </summary>
internal sealed class FieldReader(JsonElement element)
{
    public string? Error { get; private set; }

    public string Required(string name, int maxLength) => Read(name, maxLength, required: true) ?? string.Empty;

    public string? Optional(string name, int maxLength) => Read(name, maxLength, required: false);

    public bool TestFlag() => IsTestFlag(Optional("testFlag", 2));

    public static bool IsTestFlag(string? value) => value == "1";

    public JsonElement? Element(string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null
            ? value
            : null;

    public void Fail(string error) => Error ??= error;

    private string? Read(string name, int maxLength, bool required)
    {
        if (Error is not null)
        {
            return null;
        }

        string? value;
        switch (Element(name))
        {
            case null:
                value = null;
                break;
            case { ValueKind: JsonValueKind.String } s:
                value = WireText.TryGetString(s);
                if (value is null)
                {
                    Fail($"{name} is not valid UTF-8 text.");
                    return null;
                }

                break;
            case { ValueKind: JsonValueKind.Number } n:
                value = n.GetRawText();
                break;
            default:
                Fail($"{name} must be a string.");
                return null;
        }

        if (string.IsNullOrEmpty(value))
        {
            if (required)
            {
                Fail($"{name} is missing.");
            }

            return null;
        }

        if (value.Length > maxLength)
        {
            Fail($"{name} is longer than {maxLength} characters.");
            return null;
        }

        return value;
    }
}
