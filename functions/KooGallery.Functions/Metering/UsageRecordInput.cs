using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KooGallery.Protocol.Wire;

namespace KooGallery.Functions.Metering;

/// <summary>
/// A usage record as the merchant's SaaS reports it (docs/metering.md, "Intake contract"), read field by field so that one
/// mistyped record is rejected on its own: <see cref="Problem"/> says what is wrong with it, and a record
/// with a problem is never counted.
/// </summary>
public sealed record UsageRecordInput(
    int Index,
    string? InstanceId,
    string? UsageValue,
    DateTimeOffset? BeginTime,
    DateTimeOffset? EndTime,
    string? RecordId,
    string? PackageInstanceId,
    string? Problem)
{
    public const int MaxRecordIdLength = 128;

    /// <summary>
    /// The record's id: the one it brought, or one derived from its content alone (instance, package, times and
    /// value) — never from its position — so any resend a client can make (the whole batch, a subset, in another
    /// order) gives each record the id it had. Without a <c>recordId</c>, equal content is the same record: two
    /// equal records, in one batch or in two, count once. A client that means two equal amounts for the same
    /// interval sends record ids.
    /// </summary>
    public string EffectiveRecordId => RecordId ?? DerivedId();

    private string DerivedId()
    {
        var content = string.Join('\n',
            InstanceId, PackageInstanceId ?? "-", BeginTime?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            EndTime?.UtcDateTime.ToString("O", CultureInfo.InvariantCulture),
            UsageValues.TryParse(UsageValue, out var v) ? UsageValues.Format(v) : UsageValue);
        return "auto:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(content)).AsSpan(0, 20));
    }

    internal static UsageRecordInput From(int index, JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return Invalid(index, $"the record must be a JSON object, not {element.ValueKind.ToString().ToLowerInvariant()}.");
        }

        string? problem = null;
        string? Text(string name, int max)
        {
            if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            var text = value.ValueKind == JsonValueKind.String ? WireText.TryGetString(value) : null;
            if (text is null || text.Length > max)
            {
                problem ??= $"{name} must be a string of at most {max} characters.";
                return null;
            }

            return text;
        }

        DateTimeOffset? Time(string name)
        {
            if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            if (value.ValueKind == JsonValueKind.String && WireText.TryGetString(value) is { } text && text.Length <= 40
                && (text.EndsWith('Z') || text.EndsWith('z') || text.LastIndexOfAny(['+', '-']) > 10)
                && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
            {
                return at;
            }

            problem ??= $"{name} must be an ISO 8601 time with a zone, e.g. 2026-11-29T08:00:00Z.";
            return null;
        }

        var instanceId = Text("instanceId", 64);
        string? usageValue = null;
        if (element.TryGetProperty("usageValue", out var raw))
        {
            usageValue = raw.ValueKind switch
            {
                JsonValueKind.Number => raw.GetRawText(),
                JsonValueKind.String => WireText.TryGetString(raw),
                _ => null,
            };
        }

        var begin = Time("beginTime");
        var end = Time("endTime");
        var recordId = Text("recordId", MaxRecordIdLength);
        if (recordId is not null && string.IsNullOrWhiteSpace(recordId))
        {
            // An empty id would make every later record with one a duplicate of the first.
            problem ??= "recordId must not be empty: send a unique id, or leave the field out to let the record's content identify it.";
        }

        var package = Text("packageInstanceId", 64);
        return new UsageRecordInput(index, instanceId, usageValue, begin, end, recordId, package, problem);
    }

    private static UsageRecordInput Invalid(int index, string problem) => new(index, null, null, null, null, null, null, problem);
}

/// <summary>The body of an intake call or queue message: <c>{"records":[…]}</c> (a single record object is accepted too).</summary>
public static class UsageBatchInput
{
    /// <summary>The records of a batch, each read on its own; null (with the reason) when the body is not a batch at all.</summary>
    public static IReadOnlyList<UsageRecordInput>? TryParse(ReadOnlyMemory<byte> body, out string? error)
    {
        error = null;
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException ex)
        {
            error = "the body is not JSON: " + ex.Message;
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "the body must be a JSON object {\"records\":[…]}.";
                return null;
            }

            if (!root.TryGetProperty("records", out var records))
            {
                return [UsageRecordInput.From(0, root)];
            }

            if (records.ValueKind != JsonValueKind.Array || records.GetArrayLength() == 0)
            {
                error = "records must be a non-empty array.";
                return null;
            }

            return records.EnumerateArray().Select((r, i) => UsageRecordInput.From(i, r)).ToList();
        }
    }
}

/// <summary>What happened to one record.</summary>
/// <param name="Note">Something worth knowing about an accepted record (e.g. a debug instance's usage is kept, never sent).</param>
public sealed record UsageRecordOutcome(int Index, string? RecordId, string Status, string? Error, string? Note = null)
{
    public const string Accepted = "accepted";
    public const string Duplicate = "duplicate";
    public const string Rejected = "rejected";

    /// <summary>Storage failed before this record was written: nothing of it is counted; send it again.</summary>
    public const string NotProcessed = "not-processed";
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
