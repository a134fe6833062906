using KooGallery.Functions.Tests.Infrastructure;

namespace KooGallery.Functions.Tests;

/// <summary>
/// The storage round trips each callback costs, as documented in docs/benchmarks.md. A change that adds one fails
/// here, so the figure in the docs cannot silently drift.
/// </summary>
public class RoundTripTests
{
    private static async Task<(LocalMarketplace Market, StorageRoundTrips Counter)> StartAsync()
    {
        // Each call held 25 ms after its answer: calls issued together surely overlap, so Sequential is exact.
        var counter = new StorageRoundTrips { Hold = TimeSpan.FromMilliseconds(25) };
        var market = await LocalMarketplace.StartAsync(services: counter.CountIn);
        return (market, counter);
    }

    [Fact]
    public async Task New_instance_costs_six_round_trips_two_in_sequence_and_a_repeat_five()
    {
        var (market, counter) = await StartAsync();
        await using var _ = market;

        counter.Reset();
        await market.NewInstanceAsync("CS-RT-1");
        var first = counter.Calls;
        var firstSequential = counter.Sequential;
        counter.Reset();
        await market.NewInstanceAsync("CS-RT-1");
        var repeat = counter.Calls;

        // nonce insert and the instance read together; then together: the instance + event + answer transaction
        // ($batch), the sweeper's index entry, the order's index row and the queue put
        Assert.Equal(6, first.Count);
        Assert.Equal(2, firstSequential);
        Assert.Single(first, c => c.EndsWith("/$batch", StringComparison.Ordinal));
        Assert.Single(first, c => c.Contains("/messages", StringComparison.Ordinal));
        // nonce insert and the read that finds the instance; the order's index row and the sweeper's entry again;
        // the answer kept with the nonce. No insert, no message.
        Assert.Equal(5, repeat.Count);
        Assert.DoesNotContain(repeat, c => c.EndsWith("/$batch", StringComparison.Ordinal) || c.Contains("/messages", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Query_instance_costs_three_round_trips_whatever_the_number_of_ids_in_latency()
    {
        var (market, counter) = await StartAsync();
        await using var _ = market;
        var id = await market.NewInstanceAsync("CS-RT-2");
        await market.DrainAsync();

        counter.Reset();
        await market.CallAsync("queryInstance", new { instanceId = id });

        // nonce insert and one point read together (several ids: one point read each, all in parallel), the answer
        // kept with the nonce
        Assert.Equal(3, counter.Calls.Count);
        Assert.Equal(2, counter.Sequential);
    }

    [Fact]
    public async Task A_state_change_costs_five_round_trips_two_in_sequence_none_of_them_a_conditional_write()
    {
        var (market, counter) = await StartAsync();
        await using var _ = market;
        var id = await market.NewInstanceAsync("CS-RT-3");
        await market.DrainAsync();

        counter.Reset();
        await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "FREEZE" });

        // nonce insert and read together; then together: the insert-only transaction (change + event + answer), the
        // sweeper's index entry and the queue put
        Assert.Equal(5, counter.Calls.Count);
        Assert.Equal(2, counter.Sequential);
        Assert.Single(counter.Calls, c => c.EndsWith("/$batch", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_callback_KooGallery_counts_as_failed_costs_one_more_write_and_only_the_first_time()
    {
        var (market, counter) = await StartAsync();
        await using var _ = market;

        counter.Reset();
        await market.CallAsync("releaseInstance", new { instanceId = "no-such-instance", orderId = "CS-RT-FAIL" });
        var first = counter.Calls;
        counter.Reset();
        await market.CallAsync("releaseInstance", new { instanceId = "no-such-instance", orderId = "CS-RT-FAIL" });

        // nonce insert and the instance read (not found) together, the answer kept, the failed order's row
        Assert.Equal(4, first.Count);
        // the same, and the row insert is refused (409): the order counts once
        Assert.Equal(4, counter.Calls.Count);
    }
}
