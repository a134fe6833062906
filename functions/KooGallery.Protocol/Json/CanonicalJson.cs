using System.Text.Encodings.Web;
using System.Text.Json;

namespace KooGallery.Protocol.Json;

/// <summary>
/// The JSON re-serialisations KooGallery signs over. Huawei's Java demo parses the body into a
/// TreeMap and writes it back with Jackson: compact, non-ASCII left raw, <c>/</c> not escaped.
/// System.Text.Json with the relaxed encoder is the closest match; numbers are re-emitted from their
/// raw text so <c>1.50</c> stays <c>1.50</c>.
/// </summary>
public static class CanonicalJson
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = false,
    };

    /// <summary>
    /// V2 and kit <c>RequestPayload</c> (§3.1/§3.2): top-level keys sorted ordinally, top-level
    /// nulls dropped, nested objects kept in received order. Returns null when the body is not a JSON object.
    /// </summary>
    public static byte[]? SortTopLevel(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json.ToArray());
        }
        catch (JsonException)
        {
            return null;
        }

        using (document)
        {
            // A body whose text cannot be re-written (invalid UTF-8, a lone surrogate) has no canonical form;
            // it can still verify over its raw bytes.
            if (document.RootElement.ValueKind != JsonValueKind.Object || !Wire.WireText.IsReadable(document.RootElement))
            {
                return null;
            }

            using var buffer = new MemoryStream(json.Length + 16);
            using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
            {
                writer.WriteStartObject();
                foreach (var property in document.RootElement.EnumerateObject()
                             .Where(p => p.Value.ValueKind != JsonValueKind.Null)
                             .OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteVerbatim(writer, property.Value, sortNested: false);
                }

                writer.WriteEndObject();
            }

            return buffer.ToArray();
        }
    }

    /// <summary>
    /// Keys sorted ordinally at every depth, compact. Used for bodies we sign and send ourselves
    /// (usage push, §5.9.3), which then verify whichever sort depth the receiver applies.
    /// </summary>
    public static byte[] SortDeep(JsonElement element)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            WriteVerbatim(writer, element, sortNested: true);
        }

        return buffer.ToArray();
    }

    private static void WriteVerbatim(Utf8JsonWriter writer, JsonElement element, bool sortNested)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                var properties = element.EnumerateObject();
                foreach (var property in sortNested ? properties.OrderBy(p => p.Name, StringComparer.Ordinal) : properties.AsEnumerable())
                {
                    writer.WritePropertyName(property.Name);
                    WriteVerbatim(writer, property.Value, sortNested);
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    WriteVerbatim(writer, item, sortNested);
                }

                writer.WriteEndArray();
                break;
            case JsonValueKind.Number:
                writer.WriteRawValue(element.GetRawText(), skipInputValidation: true);
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
