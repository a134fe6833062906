using Azure.Core;
using Azure.Core.Pipeline;

namespace KooGallery.Functions.Storage;

/// <summary>
/// In every storage call of the app's own clients, when the app creates its tables and queues itself
/// (<see cref="Configuration.StorageOptions.CreateAtStart"/>): a call made while the creation after start is still
/// running waits for it (bounded), so a callback that arrives the moment the host is up does not fail on a table
/// that is about to exist; and a call refused because its table or queue is missing (storage that was unreachable
/// when the app started, or wiped while it ran) has them created and is sent once more. Either way the outage costs
/// time, never an order. Without creation (the Bicep's deployment) it passes every call straight through.
/// </summary>
public sealed class StorageCreationPolicy : HttpPipelinePolicy
{
    /// <summary>Set while the creation itself runs: its own calls must not wait for themselves.</summary>
    private static readonly AsyncLocal<bool> Creating = new();

    private StorageInitializer? creator;

    /// <summary>The error codes with which storage refuses a call to a table or queue that does not exist.</summary>
    public static readonly IReadOnlySet<string> MissingCodes = new HashSet<string>(["TableNotFound", "QueueNotFound"], StringComparer.Ordinal);

    /// <summary>The initializer attaches itself when it is built: it needs the clients this policy is part of.</summary>
    internal void Attach(StorageInitializer initializer) => creator = initializer;

    /// <summary>Runs <paramref name="create"/> with its storage calls let through the gate.</summary>
    internal static async Task AsCreatorAsync(Func<Task> create)
    {
        Creating.Value = true;
        await create().ConfigureAwait(false);
    }

    // The app calls storage asynchronously only; a synchronous call is passed through as it is.
    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => ProcessNext(message, pipeline);

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        if (creator is not { Creates: true } initializer || Creating.Value)
        {
            await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
            return;
        }

        await initializer.FirstCreationAsync(message.CancellationToken).ConfigureAwait(false);
        await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
        if (Missing(message) is { } code && await initializer.CreateAgainAsync(code, message.CancellationToken).ConfigureAwait(false))
        {
            // Nothing was done by a call to a table or queue that did not exist, so sending it again is safe.
            await ProcessNextAsync(message, pipeline).ConfigureAwait(false);
        }
    }

    /// <summary>The missing-table or missing-queue code of the answer, if that is what it is.</summary>
    private static string? Missing(HttpMessage message)
    {
        if (!message.HasResponse)
        {
            return null;
        }

        var status = message.Response.Status;
        if (status == 404 && message.Response.Headers.TryGetValue("x-ms-error-code", out var code) && code is not null && MissingCodes.Contains(code))
        {
            return code;
        }

        // A table's code may come only in its OData error; a transaction is answered 202 with the refusal of its
        // operations inside. Entity data in a body never holds this text unescaped, so it can only be the error's code.
        var transaction = status == 202 && message.Request.Uri.Path.EndsWith("$batch", StringComparison.Ordinal);
        return (status == 404 || transaction) && message.Response.Content.ToString().Contains(TableNotFoundInBody, StringComparison.Ordinal)
            ? "TableNotFound"
            : null;
    }

    private const string TableNotFoundInBody = "\"code\":\"TableNotFound\"";
}
