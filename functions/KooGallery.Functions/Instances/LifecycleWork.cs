using System.Text.Json;
using Azure.Storage.Queues;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Instances;

/// <summary>Kinds of work for the tenant seam; each is also an entry of an instance's <c>PendingWork</c>.</summary>
public static class WorkKinds
{
    public const string Provision = "provision";
    public const string Expiry = "expiry";
    public const string Status = "status";
    public const string Upgrade = "upgrade";
    public const string Release = "release";

    /// <summary>A message only: "the instance has recorded changes to apply" (never an entry of PendingWork).</summary>
    public const string Changes = "changes";

    /// <summary>Pending work, in the order the worker does it: the tenant first exists, a release wins over the rest.</summary>
    public static readonly IReadOnlyList<string> InOrder = [Provision, Release, Expiry, Status, Upgrade];

    public static readonly IReadOnlySet<string> All = new HashSet<string>(InOrder, StringComparer.Ordinal);

    public static readonly IReadOnlySet<string> InMessages = new HashSet<string>(InOrder.Append(Changes), StringComparer.Ordinal);
}

/// <summary>
/// A queue message: "instance X has work (kind K)". It carries no data on purpose: the worker applies the
/// instance's recorded changes and brings the tenant to its current state, so duplicates are harmless and
/// out-of-order messages (freeze then unfreeze delivered the other way round) still converge.
/// </summary>
/// <param name="Retry">Set on the message the worker scheduled itself after a transient failure: the failure
/// count it was scheduled for. Only that message runs outbound work before the back-off has passed.</param>
/// <param name="Ahead">Put beside the write it announces (a callback's insert or change), so it may arrive before that
/// write is visible: a worker that finds nothing to do puts it back once, a moment later.</param>
public sealed record LifecycleWork(string InstanceId, string Work, int? Retry = null, bool Ahead = false)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a message of the lifecycle queue (see <see cref="Storage.QueueMessageBody"/>); null when it is not lifecycle work.</summary>
    public static LifecycleWork? FromQueueBody(BinaryData body) => TryParse(Storage.QueueMessageBody.JsonText(body));

    public static LifecycleWork? TryParse(string? json)
    {
        try
        {
            var work = json is null ? null : JsonSerializer.Deserialize<LifecycleWork>(json, Json);
            return work is not null && !string.IsNullOrEmpty(work.InstanceId) && WorkKinds.InMessages.Contains(work.Work) ? work : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Puts life-cycle work on the queue (Base64, as the queue trigger expects), optionally invisible for a while.</summary>
public class LifecycleWorkSender(QueueServiceClient queues, IOptions<StorageOptions> names)
{
    public Task EnqueueAsync(LifecycleWork work, CancellationToken cancellationToken) => EnqueueAsync(work, TimeSpan.Zero, cancellationToken);

    public Task EnqueueAsync(LifecycleWork work, TimeSpan delay, CancellationToken cancellationToken) =>
        SendAsync(work, Visibility(delay), cancellationToken);

    /// <summary>
    /// Puts back a message that may have overtaken its callback's write (<see cref="LifecycleWork.Ahead"/>), for a
    /// second look after <paramref name="delay"/> of real time — not a schedule of the app's own, so not on its clock.
    /// </summary>
    public Task PutBackAsync(LifecycleWork work, TimeSpan delay, CancellationToken cancellationToken) =>
        SendAsync(work, PutBackVisibility(delay), cancellationToken);

    private async Task SendAsync(LifecycleWork work, TimeSpan? visibility, CancellationToken cancellationToken) =>
        await queues.GetQueueClient(names.Value.LifecycleQueue)
            .SendMessageAsync(work.ToJson(), visibilityTimeout: visibility, cancellationToken: cancellationToken)
            .ConfigureAwait(false);

    /// <summary>How long a put-back message stays invisible; tests on a fake clock make it visible at once.</summary>
    protected virtual TimeSpan? PutBackVisibility(TimeSpan delay) => delay;

    /// <summary>
    /// How long the message stays invisible for a wanted delay. Tests that run the app on a fake clock make
    /// it zero and move the clock instead; the worker's own due-time check keeps the schedule either way.
    /// </summary>
    protected virtual TimeSpan? Visibility(TimeSpan delay) => delay > TimeSpan.Zero ? delay : null;
}
