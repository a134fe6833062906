using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Operations;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Tests;

/// <summary>Callbacks per hour: counted in memory, written per worker, summed when read.</summary>
public class CallbackCountersTests
{
    [Fact]
    public async Task Counts_of_every_worker_add_up_and_flushing_again_never_double_counts()
    {
        await using var market = await LocalMarketplace.StartAsync();
        await market.NewInstanceAsync("CS2611290601", test: false);
        await market.CallAsync("queryInstance", new { instanceId = "nope" });
        await market.CallAsync("queryInstance", new { instanceId = "nope-either" });
        var counters = market.App.Services.GetRequiredService<CallbackCounters>();
        await counters.FlushAsync(CancellationToken.None);
        await counters.FlushAsync(CancellationToken.None);

        // A second worker of the same app, counting its own calls into its own row.
        using var other = new CallbackCounters(market.App.Services.GetRequiredService<TableServiceClient>(), market.App.Services.GetRequiredService<IOptions<StorageOptions>>(), market.App.Clock);
        other.Count("queryInstance", "000003");
        other.Count("a-fuzzed-activity-name-far-too-long-to-be-any-real-activity", "999999");
        await other.FlushAsync(CancellationToken.None);

        var now = market.App.Clock.GetUtcNow();
        var hours = await counters.HoursAsync(now.AddHours(-1), now, CancellationToken.None);
        var hour = Assert.Single(hours).Value;
        Assert.Equal(1, hour["newInstance|000000"]);
        Assert.Equal(3, hour["queryInstance|000003"]);
        Assert.Equal(1, hour["other|999999"]);
    }
}
