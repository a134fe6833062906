using Azure.Core;
using Azure.Core.Pipeline;

namespace KooGallery.Benchmarks;

/// <summary>
/// Gives every storage call a longer network timeout than the app's 2 seconds (kept short so a callback stays
/// within KooGallery's 5): Azurite, one node process holding hundreds of thousands of entities in memory, can take
/// longer than that for a read at the scale section's volume — a limit of the emulator, not of the reads measured.
/// </summary>
internal sealed class StorageTimeout(TimeSpan timeout) : HttpPipelinePolicy
{
    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        message.NetworkTimeout = timeout;
        ProcessNext(message, pipeline);
    }

    public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        message.NetworkTimeout = timeout;
        return ProcessNextAsync(message, pipeline);
    }
}
