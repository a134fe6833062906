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
    private int inFlight;
    private int waves;

    /// <summary>
    /// How long each call stays in flight after its answer: calls issued together then surely overlap, so
    /// <see cref="Sequential"/> counts the round trips one after the other however fast the storage answers.
    /// </summary>
    public TimeSpan Hold { get; set; }

    /// <summary>Round trips one after the other: a call that starts while none is in flight begins a new one.</summary>
    public int Sequential
    {
        get
        {
            lock (calls)
            {
                return waves;
            }
        }
    }

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
            waves = 0;
        }
    }

    /// <summary>Registers the app's own storage clients again, with this counter in their pipelines.</summary>
    public void CountIn(IServiceCollection services) => WithPolicy(services, this);

    /// <summary>The app's own Table and Queue clients, built as production builds them, with <paramref name="policy"/> added.</summary>
    public static void WithPolicy(IServiceCollection services, HttpPipelinePolicy policy) =>
        services
            .Replace(ServiceDescriptor.Singleton(sp => StorageClients.CreateTableServiceClient(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<StorageCreationPolicy>(), policy)))
            .Replace(ServiceDescriptor.Singleton(sp => StorageClients.CreateQueueServiceClient(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<StorageCreationPolicy>(), policy)));

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Record(message);
        try
        {
            ProcessNext(message, pipeline);
        }
        finally
        {
            lock (calls)
            {
                inFlight--;
            }
        }
    }

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        Record(message);
        try
        {
            await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
            if (Hold > TimeSpan.Zero)
            {
                await Task.Delay(Hold).ConfigureAwait(false);
            }
        }
        finally
        {
            lock (calls)
            {
                inFlight--;
            }
        }
    }

    private void Record(HttpMessage message)
    {
        lock (calls)
        {
            calls.Add($"{message.Request.Method} {message.Request.Uri.Path}");
            if (inFlight++ == 0)
            {
                waves++;
            }
        }
    }
}
