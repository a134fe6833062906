using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace KooGallery.Functions.Metering;

/// <summary>A usage record as the merchant's SaaS reports it (README "Usage intake").</summary>
public sealed record UsageRecordInput
{
    public string? InstanceId { get; init; }

    /// <summary>A JSON number or a string; more than 0, at most 4 decimals.</summary>
    [JsonConverter(typeof(NumberOrStringConverter))]
    public string? UsageValue { get; init; }

    public DateTimeOffset? BeginTime { get; init; }

    public DateTimeOffset? EndTime { get; init; }

    /// <summary>Optional idempotency id: the same id again is answered "duplicate" and counted once.</summary>
    public string? RecordId { get; init; }

    /// <summary>For stop-before-excess packages: the package instance being consumed (<c>relate_pkg_instance</c>).</summary>
    public string? PackageInstanceId { get; init; }
}

/// <summary>The body of an intake call or queue message: <c>{"records":[…]}</c> (a single record object is accepted too).</summary>
public sealed record UsageBatchInput(IReadOnlyList<UsageRecordInput>? Records)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static UsageBatchInput? TryParse(string text, out string? error)
    {
        error = null;
        try
        {
            using var document = JsonDocument.Parse(text);
            if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("records", out _))
            {
                return document.RootElement.Deserialize<UsageBatchInput>(Json);
            }

            return new UsageBatchInput([document.RootElement.Deserialize<UsageRecordInput>(Json)!]);
        }
        catch (JsonException ex)
        {
            error = "the body is not a usage batch: " + ex.Message;
            return null;
        }
    }
}

/// <summary>What happened to one record.</summary>
public sealed record UsageRecordOutcome(int Index, string? RecordId, string Status, string? Error)
{
    public const string Accepted = "accepted";
    public const string Duplicate = "duplicate";
    public const string Rejected = "rejected";
}

internal sealed class NumberOrStringConverter : JsonConverter<string?>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number => Encoding(reader),
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Null => null,
        _ => throw new JsonException("usageValue must be a number or a string."),
    };

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    private static string Encoding(Utf8JsonReader reader) =>
        System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? System.Buffers.BuffersExtensions.ToArray(reader.ValueSequence) : reader.ValueSpan.ToArray());
}

internal static class UsageValues
{
    /// <summary>Double(12,4) on the wire: more than 0, at most 4 decimals, below 10^8.</summary>
    public static bool TryParse(string? text, out decimal value) =>
        decimal.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out value)
        && value > 0 && value < 100_000_000m && decimal.Round(value, 4) == value;

    /// <summary>The value as pushed: invariant, no exponent, trailing zeros dropped.</summary>
    public static string Format(decimal value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
