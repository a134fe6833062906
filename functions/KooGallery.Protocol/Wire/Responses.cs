using System.Text.Encodings.Web;
using System.Text.Json;

namespace KooGallery.Protocol.Wire;

/// <summary>
/// A V2 answer. Serialised by hand with a fixed field order (<c>resultCode</c>, <c>resultMsg</c>, then the
/// activity's fields) into the exact bytes that are both sent and signed with <c>Body-Sign</c>.
/// </summary>
public class KooGalleryResponse(ResultCode resultCode, string? resultMsg = null)
{
    public const int MaxResultMsgLength = 255;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public ResultCode ResultCode { get; } = resultCode;

    public string ResultMsg { get; } = Cut(resultMsg ?? resultCode.DefaultMessage, MaxResultMsgLength);

    public byte[] ToUtf8Bytes()
    {
        using var buffer = new MemoryStream(128);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("resultCode", ResultCode.Value);
            writer.WriteString("resultMsg", ResultMsg);
            WriteFields(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    protected virtual void WriteFields(Utf8JsonWriter writer)
    {
    }

    protected static string Cut(string value, int max) => value.Length > max ? value[..max] : value;
}

/// <summary><c>newInstance</c> answer: the <c>instanceId</c> on success.</summary>
public sealed class NewInstanceResponse(ResultCode resultCode, string? instanceId, string? resultMsg = null)
    : KooGalleryResponse(resultCode, resultMsg)
{
    public string? InstanceId { get; } = instanceId;

    protected override void WriteFields(Utf8JsonWriter writer)
    {
        if (InstanceId is not null)
        {
            writer.WriteString("instanceId", InstanceId);
        }
    }
}

/// <summary>Login data shown to the customer (§5.2); <c>frontEndUrl</c> at most 512 characters.</summary>
public sealed record AppInfo(string FrontEndUrl, string? AdminUrl = null, string? UserName = null, string? Password = null, string? Memo = null)
{
    public const int MaxUrlLength = 512;
}

/// <summary>One element of <c>info[]</c>.</summary>
public sealed record InstanceInfo(string InstanceId, AppInfo? AppInfo);

/// <summary><c>queryInstance</c> answer: one <c>info</c> element per requested id.</summary>
public sealed class QueryInstanceResponse(ResultCode resultCode, IReadOnlyList<InstanceInfo> info, string? resultMsg = null)
    : KooGalleryResponse(resultCode, resultMsg)
{
    public IReadOnlyList<InstanceInfo> Info { get; } = info;

    protected override void WriteFields(Utf8JsonWriter writer)
    {
        writer.WriteStartArray("info");
        foreach (var item in Info)
        {
            writer.WriteStartObject();
            writer.WriteString("instanceId", item.InstanceId);
            if (item.AppInfo is { } app)
            {
                writer.WriteStartObject("appInfo");
                writer.WriteString("frontEndUrl", Cut(app.FrontEndUrl, AppInfo.MaxUrlLength));
                WriteOptional(writer, "adminUrl", app.AdminUrl is null ? null : Cut(app.AdminUrl, AppInfo.MaxUrlLength));
                WriteOptional(writer, "userName", app.UserName);
                WriteOptional(writer, "password", app.Password);
                WriteOptional(writer, "memo", app.Memo);
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteOptional(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }
}
