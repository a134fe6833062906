using System.Collections.Concurrent;

namespace KooGallery.Simulator;

/// <summary>A way for the emulator to misbehave on the next request(s).</summary>
public abstract record Fault
{
    /// <summary>Answer with an HTTP error status (default 500).</summary>
    public sealed record ServerError(int Status = 500) : Fault;

    /// <summary>Answer 429 with <c>Retry-After</c> in seconds.</summary>
    public sealed record TooManyRequests(int RetryAfterSeconds) : Fault;

    /// <summary>Wait before answering normally.</summary>
    public sealed record Slow(TimeSpan Delay) : Fault;

    /// <summary>Abort the connection without an answer.</summary>
    public sealed record DropConnection : Fault;

    /// <summary>Answer HTTP 200 with a KooGallery business error code.</summary>
    public sealed record BusinessError(string ResultCode = "92020002", string ResultMsg = "invalid param") : Fault;
}

/// <summary>Faults to apply, in order, one request each.</summary>
public sealed class FaultPlan
{
    private readonly ConcurrentQueue<Fault> queue = new();

    public void Enqueue(Fault fault, int times = 1)
    {
        for (var i = 0; i < times; i++)
        {
            queue.Enqueue(fault);
        }
    }

    public void Clear() => queue.Clear();

    public int Pending => queue.Count;

    internal Fault? Next() => queue.TryDequeue(out var fault) ? fault : null;
}
