using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>
/// Makes the app's real storage fail on purpose: once armed, every matching request after the first
/// <c>allow</c> ones fails as an unreachable service would, until disarmed. The storage itself is real Azurite.
/// </summary>
public sealed class StorageOutage : HttpPipelinePolicy
{
    private readonly Lock gate = new();
    private Func<HttpMessage, bool>? matches;
    private int allowed;

    public int Failed { get; private set; }

    public void Arm(Func<HttpMessage, bool> which, int allow = 0)
    {
        lock (gate)
        {
            matches = which;
            allowed = allow;
            Failed = 0;
        }
    }

    public void Disarm()
    {
        lock (gate)
        {
            matches = null;
        }
    }

    public static bool Transactions(HttpMessage message) => message.Request.Uri.Path.EndsWith("/$batch", StringComparison.Ordinal);

    public void FailIn(IServiceCollection services) => StorageRoundTrips.WithPolicy(services, this);

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Check(message);
        ProcessNext(message, pipeline);
    }

    public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Check(message);
        return ProcessNextAsync(message, pipeline);
    }

    private void Check(HttpMessage message)
    {
        lock (gate)
        {
            if (matches is null || !matches(message))
            {
                return;
            }

            if (allowed > 0)
            {
                allowed--;
                return;
            }

            Failed++;
        }

        throw new RequestFailedException(503, "storage outage (test)", "ServerBusy", null);
    }
}
