using Azure;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Storage;

/// <summary>
/// Creates missing tables at start so the first callback does not pay for it. In Azure the Bicep
/// templates create them too; a failure here is logged, never fatal: the identity may lack the right to
/// create tables while still being able to use the ones provisioned, and storage that is unreachable at
/// start (the SDK then throws <see cref="AggregateException"/> after its retries, not a
/// <see cref="RequestFailedException"/>) must not crash the worker into a restart loop — callbacks answer
/// 000005 until storage is back, and KooGallery retries them.
/// </summary>
public sealed class StorageInitializer(TableServiceClient tables, QueueServiceClient queues, IOptions<StorageOptions> names, ILogger<StorageInitializer> logger) : IHostedService
{
    /// <summary>All tables and queues at once: start-up waits one round trip, not one per table and queue.</summary>
    public Task EnsureCreatedAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(
            names.Value.Tables.Select(table => (Task)tables.CreateTableIfNotExistsAsync(table, cancellationToken))
                .Concat(names.Value.Queues.Select(queue => (Task)queues.GetQueueClient(queue).CreateIfNotExistsAsync(cancellationToken: cancellationToken))));

    async Task IHostedService.StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex)
        {
            logger.LogWarning(ex, "Could not create the app's tables and queues at start ({Status} {ErrorCode}); callbacks will answer 000005 until they exist.", ex.Status, ex.ErrorCode);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogError(ex, "Storage is unreachable at start ({ErrorType}); the app keeps running and callbacks answer 000005 until storage is back.", ex.GetType().Name);
        }
    }

    Task IHostedService.StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
