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

    public static readonly IReadOnlySet<string> All = new HashSet<string>(StringComparer.Ordinal) { Provision, Expiry, Status, Upgrade, Release };
}

/// <summary>
/// A queue message: "instance X has pending work of kind K". It carries no data on purpose: the worker
/// reads the instance and applies its current state, so duplicates are harmless and out-of-order messages
/// (freeze then unfreeze delivered the other way round) still converge.
/// </summary>
public sealed record LifecycleWork(string InstanceId, string Work)
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
            return work is not null && !string.IsNullOrEmpty(work.InstanceId) && WorkKinds.All.Contains(work.Work) ? work : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>Puts life-cycle work on the queue (Base64, as the queue trigger expects).</summary>
public sealed class LifecycleWorkSender(QueueServiceClient queues, IOptions<StorageOptions> names)
{
    public async Task EnqueueAsync(LifecycleWork work, CancellationToken cancellationToken) =>
        await queues.GetQueueClient(names.Value.LifecycleQueue).SendMessageAsync(work.ToJson(), cancellationToken).ConfigureAwait(false);
}
