using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Storage;

/// <summary>
/// Creates missing tables and queues — never on the start path: the host reports ready and the first callback
/// is answered while this runs in the background (a cold start is part of KooGallery's 5 seconds). In Azure the
/// Bicep creates them once per deployment and sets <c>Storage__CreateAtStart=false</c>, so a start makes no storage
/// call at all. A failure here is logged, never fatal: the identity may lack the right to create tables while still
/// being able to use the ones provisioned, and storage that is unreachable at start (the SDK then throws
/// <see cref="AggregateException"/> after its retries, not a <see cref="RequestFailedException"/>) must not crash
/// the worker into a restart loop — callbacks answer 000005 until storage is back, and KooGallery retries them.
/// </summary>
public sealed class StorageInitializer(TableServiceClient tables, QueueServiceClient queues, IOptions<StorageOptions> names, ILogger<StorageInitializer> logger) : IHostedService, IDisposable
{
    private readonly CancellationTokenSource stopping = new();
    private Task running = Task.CompletedTask;

    /// <summary>What the background creation is doing (tests wait for it).</summary>
    public Task Running => running;

    /// <summary>All tables and queues at once: one round trip of time, not one per table and queue.</summary>
    public Task EnsureCreatedAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(
            names.Value.Tables.Select(table => (Task)tables.CreateTableIfNotExistsAsync(table, cancellationToken))
                .Concat(names.Value.Queues.Select(queue => (Task)queues.GetQueueClient(queue).CreateIfNotExistsAsync(cancellationToken: cancellationToken))));

    Task IHostedService.StartAsync(CancellationToken cancellationToken)
    {
        if (names.Value.CreateAtStart)
        {
            running = Task.Run(() => CreateAsync(stopping.Token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    private async Task CreateAsync(CancellationToken cancellationToken)
    {
        try
        {
            await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not create the app's tables and queues ({Status} {ErrorCode}); callbacks will answer 000005 until they exist.", ex.Status, ex.ErrorCode);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Storage is unreachable at start ({ErrorType}); the app keeps running and callbacks answer 000005 until storage is back.", ex.GetType().Name);
        }
    }

    async Task IHostedService.StopAsync(CancellationToken cancellationToken)
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        await running.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose() => stopping.Dispose();
}
