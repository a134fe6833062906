using Azure.Data.Tables;
using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

public class NonceStoreTests
{
    [Fact]
    public async Task Records_first_use_then_tells_same_body_from_another_body()
    {
        await using var app = await TestApp.StartAsync();
        var store = app.Services.GetRequiredService<NonceStore>();

        Assert.Equal(NonceOutcome.First, (await store.RecordAsync("N-1", "a"u8.ToArray(), "x", CancellationToken.None)).Outcome);
        Assert.Equal(NonceOutcome.RepeatedWithSameBody, (await store.RecordAsync("N-1", "a"u8.ToArray(), "x", CancellationToken.None)).Outcome);
        Assert.Equal(NonceOutcome.RepeatedWithDifferentBody, (await store.RecordAsync("N-1", "b"u8.ToArray(), "x", CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task An_expired_nonce_can_be_used_again()
    {
        await using var app = await TestApp.StartAsync();
        var store = app.Services.GetRequiredService<NonceStore>();
        await store.RecordAsync("N-2", "a"u8.ToArray(), "x", CancellationToken.None);

        app.Clock.Advance(TimeSpan.FromMinutes(11));

        Assert.Equal(NonceOutcome.First, (await store.RecordAsync("N-2", "b"u8.ToArray(), "x", CancellationToken.None)).Outcome);
        Assert.Equal(NonceOutcome.RepeatedWithDifferentBody, (await store.RecordAsync("N-2", "a"u8.ToArray(), "x", CancellationToken.None)).Outcome);
    }

    [Fact]
    public async Task Concurrent_first_uses_of_one_nonce_admit_exactly_one_different_body()
    {
        await using var app = await TestApp.StartAsync();
        var store = app.Services.GetRequiredService<NonceStore>();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            store.RecordAsync("N-3", System.Text.Encoding.UTF8.GetBytes($"body-{i}"), "x", CancellationToken.None)));

        Assert.Single(outcomes, o => o.Outcome == NonceOutcome.First);
        Assert.Equal(19, outcomes.Count(o => o.Outcome == NonceOutcome.RepeatedWithDifferentBody));
    }

    [Fact]
    public async Task The_purge_timer_deletes_only_expired_rows()
    {
        await using var app = await TestApp.StartAsync();
        var store = app.Services.GetRequiredService<NonceStore>();
        var table = app.Services.GetRequiredService<TableServiceClient>().GetTableClient(app.Settings["Storage:NonceTable"]);
        await store.RecordAsync("old-1", "a"u8.ToArray(), "x", CancellationToken.None);
        await store.RecordAsync("old-2", "a"u8.ToArray(), "x", CancellationToken.None);
        app.Clock.Advance(TimeSpan.FromMinutes(6));
        await store.RecordAsync("fresh", "a"u8.ToArray(), "x", CancellationToken.None);
        app.Clock.Advance(TimeSpan.FromMinutes(5)); // old rows are 11 minutes old, the fresh one 5

        await app.Function<NoncePurge>().Run(new TimerInfo(), CancellationToken.None);

        var left = await table.QueryAsync<NonceEntity>().Select(e => e.PartitionKey).ToListAsync();
        Assert.Equal(["fresh"], left);
    }
}
