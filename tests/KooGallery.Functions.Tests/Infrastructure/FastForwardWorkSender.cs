using Azure.Storage.Queues;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Instances;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>
/// The real sender on the real queue, except that a delayed message is made visible at once and the app's
/// fake clock jumps forward by the delay instead: a retry schedule of hours plays out in milliseconds, and
/// the worker's own due-time check still sees exactly the wait it asked for.
/// </summary>
public sealed class FastForwardWorkSender(QueueServiceClient queues, IOptions<StorageOptions> names, FakeTimeProvider clock) : LifecycleWorkSender(queues, names)
{
    public List<TimeSpan> Delays { get; } = [];

    /// <summary>A second look for a write still on its way: real time, nothing the fake clock should jump for.</summary>
    protected override TimeSpan? PutBackVisibility(TimeSpan delay) => null;

    protected override TimeSpan? Visibility(TimeSpan delay)
    {
        if (delay > TimeSpan.Zero)
        {
            lock (Delays)
            {
                Delays.Add(delay);
            }

            clock.Advance(delay);
        }

        return null;
    }
}
