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
/// is answered while this runs in the background (a cold start is part of KooGallery's 5 seconds); a storage call
/// made meanwhile waits for it (<see cref="StorageCreationPolicy"/>). In Azure the Bicep creates them once per
/// deployment and sets <c>Storage__CreateAtStart=false</c>, so a start makes no storage call at all. A failure here
/// is logged, never fatal: storage that is unreachable at start (the SDK then throws <see cref="AggregateException"/>
/// after its retries, not a <see cref="RequestFailedException"/>) must not crash the worker into a restart loop, so
/// the creation is tried again with a growing pause until it succeeds; callbacks answer 000005 meanwhile, and
/// KooGallery retries them. A table or queue found missing later (storage wiped while the app runs) is created again
/// on the spot.
/// </summary>
public sealed class StorageInitializer : IHostedService, IDisposable
{
    /// <summary>How long a storage call waits for the creation after start before it goes ahead anyway.</summary>
    private static readonly TimeSpan FirstCreationWait = TimeSpan.FromSeconds(2);

    /// <summary>How long a call refused for a missing table or queue waits for their creation before it gives up.</summary>
    private static readonly TimeSpan CreateAgainWait = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan FirstPause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(30);

    private readonly TableServiceClient tables;
    private readonly QueueServiceClient queues;
    private readonly IOptions<StorageOptions> names;
    private readonly ILogger<StorageInitializer> logger;
    private readonly CancellationTokenSource stopping = new();
    private readonly TaskCompletionSource firstAttempt = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock again = new();
    private Task running = Task.CompletedTask;
    private Task? recreation;
    private volatile bool started;

    public StorageInitializer(TableServiceClient tables, QueueServiceClient queues, IOptions<StorageOptions> names, StorageCreationPolicy policy, ILogger<StorageInitializer> logger)
    {
        (this.tables, this.queues, this.names, this.logger) = (tables, queues, names, logger);
        policy.Attach(this);
    }

    /// <summary>What the background creation is doing (tests wait for it); it ends once everything exists.</summary>
    public Task Running => running;

    /// <summary>Whether the app creates its tables and queues itself (started, and <c>Storage__CreateAtStart</c>).</summary>
    internal bool Creates => started;

    /// <summary>All tables and queues at once: one round trip of time, not one per table and queue.</summary>
    public Task EnsureCreatedAsync(CancellationToken cancellationToken) =>
        StorageCreationPolicy.AsCreatorAsync(() => Task.WhenAll(
            names.Value.Tables.Select(table => (Task)tables.CreateTableIfNotExistsAsync(table, cancellationToken))
                .Concat(names.Value.Queues.Select(queue => (Task)queues.GetQueueClient(queue).CreateIfNotExistsAsync(cancellationToken: cancellationToken)))));

    Task IHostedService.StartAsync(CancellationToken cancellationToken)
    {
        if (names.Value.CreateAtStart)
        {
            started = true;
            running = Task.Run(() => CreateUntilDoneAsync(stopping.Token), CancellationToken.None);
        }

        return Task.CompletedTask;
    }

    /// <summary>Waits, at most a moment, for the first try of the creation after start; never throws for it.</summary>
    internal async Task FirstCreationAsync(CancellationToken cancellationToken)
    {
        if (!firstAttempt.Task.IsCompleted)
        {
            await firstAttempt.Task.WaitAsync(FirstCreationWait, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>
    /// Creates the tables and queues again after storage said one is missing; calls that find the same at the same
    /// time share one creation. True when it succeeded within a moment (the refused call is then sent again).
    /// </summary>
    internal async Task<bool> CreateAgainAsync(string code, CancellationToken cancellationToken)
    {
        Task creation;
        lock (again)
        {
            if (recreation is null || recreation.IsCompleted)
            {
                logger.LogWarning("Storage answered {ErrorCode}: creating the app's tables and queues again.", code);
                recreation = EnsureCreatedAsync(stopping.Token);
            }

            creation = recreation;
        }

        try
        {
            await creation.WaitAsync(CreateAgainWait, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("The app's tables and queues could not be created again ({ErrorType}); the call fails and is retried.", ex.GetType().Name);
            return false;
        }
    }

    private async Task CreateUntilDoneAsync(CancellationToken cancellationToken)
    {
        var pause = FirstPause;
        for (var attempt = 1; !cancellationToken.IsCancellationRequested; attempt++)
        {
            try
            {
                await EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
                if (attempt > 1)
                {
                    logger.LogInformation("The app's tables and queues exist now (try {Attempt}).", attempt);
                }

                firstAttempt.TrySetResult();
                return;
            }
            catch (RequestFailedException ex)
            {
                logger.LogWarning(ex, "Could not create the app's tables and queues ({Status} {ErrorCode}, try {Attempt}); trying again in {Pause}. Callbacks answer 000005 until they exist.", ex.Status, ex.ErrorCode, attempt, pause);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                logger.LogError(ex, "Storage is unreachable ({ErrorType}, try {Attempt}); the app keeps running, trying again in {Pause}. Callbacks answer 000005 until storage is back.", ex.GetType().Name, attempt, pause);
            }

            // Calls stop waiting for the creation once its first try is over, succeeded or not.
            firstAttempt.TrySetResult();
            await Task.Delay(pause, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
        }
    }

    async Task IHostedService.StopAsync(CancellationToken cancellationToken)
    {
        await stopping.CancelAsync().ConfigureAwait(false);
        await running.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    public void Dispose() => stopping.Dispose();
}
