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

    /// <summary>
    /// Do the work (a usage push is recorded), then abort the connection before answering: the caller cannot
    /// tell this from a push that never arrived, as after a timeout on a slow answer.
    /// </summary>
    public sealed record RecordThenDrop : Fault;

    /// <summary>Answer HTTP 200 with a body that is not a KooGallery answer (truncated JSON, an HTML error page …).</summary>
    public sealed record Malformed(string Body = "{\"resultCode\":\"9202") : Fault;

    /// <summary>Answer HTTP 200 with a KooGallery business error code.</summary>
    public sealed record BusinessError(string ResultCode = "92020002", string ResultMsg = "invalid param") : Fault;
}

/// <summary>Faults to apply, in order, one request each; or an outage: every request fails until a time.</summary>
public sealed class FaultPlan
{
    private readonly ConcurrentQueue<Fault> queue = new();
    private readonly Lock outageLock = new();
    private (TimeProvider Clock, DateTimeOffset Until, Fault[] Cycle)? outage;
    private int outageRequests;

    /// <summary>
    /// Every request fails, cycling through <paramref name="cycle"/>, until <paramref name="until"/> on
    /// <paramref name="clock"/> (the clock the app under test runs on, so an outage can last hours of its time).
    /// </summary>
    public void OutageUntil(TimeProvider clock, DateTimeOffset until, params Fault[] cycle)
    {
        lock (outageLock)
        {
            outage = (clock, until, cycle.Length > 0 ? cycle : [new Fault.ServerError(503)]);
            outageRequests = 0;
        }
    }

    /// <summary>Requests failed by the current or last outage.</summary>
    public int OutageRequests => Volatile.Read(ref outageRequests);

    public void Enqueue(Fault fault, int times = 1)
    {
        for (var i = 0; i < times; i++)
        {
            queue.Enqueue(fault);
        }
    }

    public void Clear()
    {
        queue.Clear();
        lock (outageLock)
        {
            outage = null;
        }
    }

    public int Pending => queue.Count;

    internal Fault? Next()
    {
        lock (outageLock)
        {
            if (outage is { } o && o.Clock.GetUtcNow() < o.Until)
            {
                var fault = o.Cycle[outageRequests % o.Cycle.Length];
                outageRequests++;
                return fault;
            }
        }

        return queue.TryDequeue(out var queued) ? queued : null;
    }
}
