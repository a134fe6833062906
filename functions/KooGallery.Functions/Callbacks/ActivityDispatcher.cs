using KooGallery.Protocol;
using KooGallery.Protocol.Wire;

namespace KooGallery.Functions.Callbacks;

/// <summary>Routes an authenticated call to the handler registered for its <c>activity</c>.</summary>
public sealed class ActivityDispatcher
{
    private readonly Dictionary<string, IActivityHandler> handlers;

    public ActivityDispatcher(IEnumerable<IActivityHandler> handlers)
    {
        this.handlers = new Dictionary<string, IActivityHandler>(StringComparer.Ordinal);
        foreach (var handler in handlers)
        {
            if (!this.handlers.TryAdd(handler.Activity, handler))
            {
                throw new InvalidOperationException($"Two handlers are registered for activity '{handler.Activity}'.");
            }
        }
    }

    /// <summary>Every activity this endpoint answers (tests enumerate it, so a new activity cannot be forgotten).</summary>
    public IReadOnlyCollection<string> Activities => handlers.Keys;

    /// <summary>The handler of <paramref name="activity"/>, or null when none is registered.</summary>
    public IActivityHandler? HandlerFor(string activity) => handlers.GetValueOrDefault(activity);

    public Task<KooGalleryResponse> DispatchAsync(CallbackEnvelope call, CancellationToken cancellationToken)
    {
        if (handlers.TryGetValue(call.Activity, out var handler))
        {
            return handler.HandleAsync(call, cancellationToken);
        }

        var message = KooGallery.Protocol.Wire.Activities.V2Basic.Contains(call.Activity)
            ? $"activity '{call.Activity}' is not implemented by this merchant endpoint."
            : $"unknown activity '{call.Activity}'.";
        return Task.FromResult(new KooGalleryResponse(ResultCode.InvalidParameter, message));
    }
}
