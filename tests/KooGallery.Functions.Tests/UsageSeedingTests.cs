using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using KooGallery.Functions.Metering;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Seeding usage rows (the benchmark, the tests) against a remote account: a batch the service applied but whose
/// answer was lost is retried by the SDK and then conflicts with itself. That is success, not a crash.
/// </summary>
public class UsageSeedingTests
{
    /// <summary>Lets the first transaction through to storage, then loses its answer, as a timeout on a slow account does.</summary>
    private sealed class LoseFirstBatchAnswer : HttpPipelinePolicy
    {
        private int lost;

        public int Lost => lost;

        public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) => throw new NotSupportedException();

        public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
        {
            await ProcessNextAsync(message, pipeline);
            if (message.Request.Uri.Path.EndsWith("/$batch", StringComparison.Ordinal) && Interlocked.CompareExchange(ref lost, 1, 0) == 0)
            {
                throw new IOException("the answer was lost (test)");
            }
        }
    }

    [Fact]
    public async Task A_batch_applied_before_its_answer_was_lost_is_not_a_failure_of_the_seeding()
    {
        var policy = new LoseFirstBatchAnswer();
        await using var market = await LocalMarketplace.StartAsync(services: s => s.Replace(ServiceDescriptor.Singleton(sp =>
        {
            var options = new TableClientOptions();
            options.AddPolicy(policy, HttpPipelinePosition.PerRetry); // inside the SDK's retries, like the network
            return new TableServiceClient(sp.GetRequiredService<IConfiguration>()["AzureWebJobsStorage"], options);
        })));
        var store = market.App.Services.GetRequiredService<UsageStore>();
        var hour = UsagePeriods.HourOf(market.App.Clock.GetUtcNow().AddHours(-30));
        var rows = MeteringBillingTests.Seed(hour, instances: 150, hours: 1).ToList();

        await store.AddRowsAsync(rows, CancellationToken.None);

        Assert.Equal(1, policy.Lost);
        var table = market.App.Services.GetRequiredService<TableServiceClient>().GetTableClient(market.App.Settings["Storage:UsageTable"]);
        var stored = await table.QueryAsync<TableEntity>(e => e.PartitionKey == rows[0].PartitionKey && e.RowKey.CompareTo("row|") >= 0 && e.RowKey.CompareTo("row}") < 0).ToListAsync();
        Assert.Equal(150, stored.Count);
    }
}
