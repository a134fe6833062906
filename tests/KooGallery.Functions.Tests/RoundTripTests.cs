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
        var counter = new StorageRoundTrips();
        var market = await LocalMarketplace.StartAsync(services: counter.CountIn);
        return (market, counter);
    }

    [Fact]
    public async Task New_instance_costs_six_round_trips_four_in_sequence_and_a_repeat_six()
    {
        var (market, counter) = await StartAsync();
        await using var _ = market;

        counter.Reset();
        await market.NewInstanceAsync("CS-RT-1");
        var first = counter.Calls;
        counter.Reset();
        await market.NewInstanceAsync("CS-RT-1");
        var repeat = counter.Calls;

        // nonce insert; instance+event transaction ($batch), the sweeper's index entry and the order's index row,
        // issued together; queue put; the answer kept with the nonce
        Assert.Equal(6, first.Count);
        Assert.Single(first, c => c.EndsWith("/$batch", StringComparison.Ordinal));
        Assert.Single(first, c => c.Contains("/messages", StringComparison.Ordinal));
        // nonce insert, the insert that finds the instance ($batch, 409) with its index entry and order index row,
        // one read, the answer kept
        Assert.Equal(6, repeat.Count);
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

        // nonce insert, one point read (several ids: one point read each, issued in parallel), the answer kept
        Assert.Equal(3, counter.Calls.Count);
    }

    [Fact]
    public async Task A_state_change_costs_six_round_trips_none_of_them_a_conditional_write()
    {
        var (market, counter) = await StartAsync();
        await using var _ = market;
        var id = await market.NewInstanceAsync("CS-RT-3");
        await market.DrainAsync();

        counter.Reset();
        await market.CallAsync("updateInstanceStatus", new { instanceId = id, status = "FREEZE" });

        // nonce insert, read, insert-only transaction (change + event) and the sweeper's index entry issued
        // together, queue put, the answer kept
        Assert.Equal(6, counter.Calls.Count);
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

        // nonce insert, the instance read (not found), the answer kept, the failed order's row
        Assert.Equal(4, first.Count);
        // the same, and the row insert is refused (409): the order counts once
        Assert.Equal(4, counter.Calls.Count);
    }
}
