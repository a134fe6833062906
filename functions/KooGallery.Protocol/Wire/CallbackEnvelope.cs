using System.Text.Json;

namespace KooGallery.Protocol.Wire;

/// <summary>
/// The parts of every V2 body needed before dispatch: <c>activity</c>, <c>testFlag</c>, and the parsed
/// body for the activity's own model.
/// </summary>
public sealed record CallbackEnvelope(string Activity, bool IsTest, JsonElement Body)
{
    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 32 };

    public static WireParse<CallbackEnvelope> Parse(ReadOnlySpan<byte> body)
    {
        var parsed = ParseObject(body);
        if (!parsed.IsValid)
        {
            return WireParse<CallbackEnvelope>.Fail(parsed.Error);
        }

        var root = parsed.Value.Value;
        var fields = new FieldReader(root);
        var activity = fields.Required("activity", Activities.MaxLength);
        var isTest = fields.TestFlag();
        if (fields.Error is null && activity.StartsWith(KitPrefix, StringComparison.Ordinal))
        {
            fields.Fail($"unknown activity '{activity}'.");
        }

        return fields.Error is null
            ? WireParse<CallbackEnvelope>.Ok(new CallbackEnvelope(activity, isTest, root))
            : WireParse<CallbackEnvelope>.Fail(fields.Error);
    }

    /// <summary>The body as a JSON object whose every name and string is text.</summary>
    private static WireParse<Box> ParseObject(ReadOnlySpan<byte> body)
    {
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(body.ToArray(), Options);
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return WireParse<Box>.Fail("The body is not valid JSON.");
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            return WireParse<Box>.Fail("The body must be a JSON object.");
        }

        return WireText.IsReadable(root)
            ? WireParse<Box>.Ok(new Box(root))
            : WireParse<Box>.Fail("The body holds a name or string that is not valid UTF-8 text (invalid bytes or a lone surrogate).");
    }

    private sealed record Box(JsonElement Value);

    /// <summary>
    /// A joint-operation kit sync (§2.2, §5.10): the activity is the sync the route names (prefixed
    /// <see cref="KitPrefix"/>, so a basic call can never reach a kit handler), <c>testFlag</c> an integer.
    /// </summary>
    public static WireParse<CallbackEnvelope> ParseKit(string sync, ReadOnlySpan<byte> body)
    {
        var parsed = ParseObject(body);
        if (!parsed.IsValid)
        {
            return WireParse<CallbackEnvelope>.Fail(parsed.Error);
        }

        var fields = new FieldReader(parsed.Value.Value);
        var isTest = fields.TestFlag();
        return fields.Error is null
            ? WireParse<CallbackEnvelope>.Ok(new CallbackEnvelope(KitPrefix + sync, isTest, parsed.Value.Value))
            : WireParse<CallbackEnvelope>.Fail(fields.Error);
    }

    public const string KitPrefix = "kit:";

    /// <summary>
    /// Best-effort ids for logging and telemetry before (or without) full parsing: <c>orderId</c> and
    /// <c>instanceId</c> from either body shape, cut to 100 characters.
    /// </summary>
    public (string? OrderId, string? InstanceId) CorrelationIds()
    {
        static string? Text(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.String or JsonValueKind.Number
                ? Cut(v.ValueKind == JsonValueKind.String ? WireText.TryGetString(v) : v.GetRawText())
                : null;

        var orderId = Text(Body, "orderId");
        if (orderId is null && Body.TryGetProperty("orderInfo", out var orderInfo))
        {
            var first = orderInfo.ValueKind == JsonValueKind.Array && orderInfo.GetArrayLength() > 0 ? orderInfo[0] : orderInfo;
            orderId = Text(first, "orderId");
        }

        return (orderId, Text(Body, "instanceId") ?? Text(Body, "license"));
    }

    private static string? Cut(string? value) => value is { Length: > 100 } ? value[..100] : value;
}
