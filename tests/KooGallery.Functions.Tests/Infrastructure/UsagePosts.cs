using System.Globalization;
using System.Text.Json;
using KooGallery.Functions.Metering;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>The merchant's SaaS reporting usage: records as it would write them, posted to the app's intake function.</summary>
public static class UsagePosts
{
    public static object Record(string instanceId, DateTimeOffset begin, object value, string? id = null, int minutes = 10, string? package = null) => new
    {
        instanceId,
        usageValue = value,
        beginTime = begin.ToString("O", CultureInfo.InvariantCulture),
        endTime = begin.AddMinutes(minutes).ToString("O", CultureInfo.InvariantCulture),
        recordId = id,
        packageInstanceId = package,
    };

    /// <summary>Posts a batch; the HTTP status and the answer's body.</summary>
    public static async Task<(int Status, JsonElement Body)> PostAsync(TestApp app, params object[] records)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Body = new MemoryStream(JsonSerializer.SerializeToUtf8Bytes(new { records }));
        var result = (ObjectResult)await app.Function<UsageIntakeHttp>().Run(context.Request, CancellationToken.None);
        return (result.StatusCode ?? 200, JsonSerializer.SerializeToElement(result.Value));
    }

    public static List<string> Statuses(JsonElement body) =>
        body.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("status").GetString()!).ToList();
}
