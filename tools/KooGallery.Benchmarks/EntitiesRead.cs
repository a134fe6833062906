using System.Text.Json;
using Azure.Core;
using Azure.Core.Pipeline;

namespace KooGallery.Benchmarks;

/// <summary>
/// Counts the table entities storage sends back (a query's <c>value</c> array, or one for a point read), so a
/// benchmark can say how many entities a console page load read, not only how many requests it made.
/// </summary>
internal sealed class EntitiesRead : HttpPipelinePolicy
{
    private long count;

    public long Count => Interlocked.Read(ref count);

    public void Reset() => Interlocked.Exchange(ref count, 0);

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        ProcessNext(message, pipeline);
        Add(message);
    }

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
        Add(message);
    }

    private void Add(HttpMessage message)
    {
        if (message.Request.Method != RequestMethod.Get || message.Response.Status != 200
            || !message.Response.Headers.TryGetValue("Content-Type", out var type) || !type.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        using var json = JsonDocument.Parse(message.Response.Content.ToMemory());
        Interlocked.Add(ref count, json.RootElement.TryGetProperty("value", out var rows) && rows.ValueKind == JsonValueKind.Array ? rows.GetArrayLength() : 1);
    }
}
