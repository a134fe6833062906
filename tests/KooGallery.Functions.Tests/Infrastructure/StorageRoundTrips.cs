using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using KooGallery.Functions.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>
/// Counts storage calls as the network sees them: one per logical request (PerCall), so an SDK retry would
/// not hide a second logical call, and a transaction counts once.
/// </summary>
public sealed class StorageRoundTrips : HttpPipelinePolicy
{
    private readonly List<string> calls = [];

    public IReadOnlyList<string> Calls
    {
        get
        {
            lock (calls)
            {
                return calls.ToList();
            }
        }
    }

    public void Reset()
    {
        lock (calls)
        {
            calls.Clear();
        }
    }

    /// <summary>Registers the app's own storage clients again, with this counter in their pipelines.</summary>
    public void CountIn(IServiceCollection services) => WithPolicy(services, this);

    /// <summary>The app's own Table and Queue clients, built as production builds them, with <paramref name="policy"/> added.</summary>
    public static void WithPolicy(IServiceCollection services, HttpPipelinePolicy policy) =>
        services
            .Replace(ServiceDescriptor.Singleton(sp => StorageClients.CreateTableServiceClient(sp.GetRequiredService<IConfiguration>(), policy)))
            .Replace(ServiceDescriptor.Singleton(sp => StorageClients.CreateQueueServiceClient(sp.GetRequiredService<IConfiguration>(), policy)));

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Record(message);
        ProcessNext(message, pipeline);
    }

    public override ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Record(message);
        return ProcessNextAsync(message, pipeline);
    }

    private void Record(HttpMessage message)
    {
        lock (calls)
        {
            calls.Add($"{message.Request.Method} {message.Request.Uri.Path}");
        }
    }
}
