using System.Text.Json;
using KooGallery.Functions.Callbacks;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Licensing;
using KooGallery.Functions.Operations;
using KooGallery.Protocol;
using KooGallery.Protocol.Wire;
using KooGallery.Functions.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace KooGallery.Functions.Tests;

/// <summary>KooGallery's monthly failed-order count, kept by the callback pipeline as failures happen.</summary>
public class FailedOrderTests
{
    private static async Task<JsonElement> MonthAsync(LocalMarketplace market, string? month = null)
    {
        var context = new DefaultHttpContext();
        if (month is not null)
        {
            context.Request.QueryString = new QueryString("?month=" + month);
        }

        var result = await market.App.Function<FailedOrderFunctions>().Month(context.Request, CancellationToken.None);
        return JsonSerializer.SerializeToElement(Assert.IsType<OkObjectResult>(result).Value);
    }

    [Fact]
    public async Task An_order_counts_once_when_a_callback_fails_and_successful_orders_never_count()
    {
        await using var market = await LocalMarketplace.StartAsync();
        await market.NewInstanceAsync("CS2611290101", test: false);

        // Two failures of the same order (an unknown instance each time), then another order's failure.
        var first = await market.CallAsync("refreshInstance", new { instanceId = "no-such-instance", orderId = "CS2611290102", orderLineId = "CS2611290102-000001", scene = "RENEWAL", expireTime = "20281129235959" });
        var again = await market.CallAsync("refreshInstance", new { instanceId = "no-such-instance", orderId = "CS2611290102", orderLineId = "CS2611290102-000001", scene = "RENEWAL", expireTime = "20281129235959" });
        var other = await market.CallAsync("upgradeInstance", new { instanceId = "another-missing", orderId = "CS2611290103", orderLineId = "CS2611290103-000001" });
        Assert.Equal(["000003", "000003", "000003"], new[] { first.ResultCode, again.ResultCode, other.ResultCode });

        var month = await MonthAsync(market);
        Assert.Equal(2, month.GetProperty("count").GetInt32());
        Assert.Equal(5, month.GetProperty("threshold").GetInt32());
        Assert.False(month.GetProperty("overThreshold").GetBoolean());
        var orders = month.GetProperty("orders").EnumerateArray().ToList();
        Assert.Equal(["CS2611290102", "CS2611290103"], orders.Select(o => o.GetProperty("OrderId").GetString()));
        Assert.Equal("refreshInstance", orders[0].GetProperty("Activity").GetString());
        Assert.Equal("000003", orders[0].GetProperty("ResultCode").GetString());
    }

    [Fact]
    public async Task Debug_orders_are_listed_but_not_counted_and_other_months_stay_apart()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var reply = await market.CallAsync("releaseInstance", new { instanceId = "missing", orderId = "MOCKDEBUG0001", testFlag = "1" });
        Assert.Equal("000003", reply.ResultCode);

        var month = await MonthAsync(market);
        Assert.Equal(0, month.GetProperty("count").GetInt32());
        Assert.True(Assert.Single(month.GetProperty("orders").EnumerateArray().ToList()).GetProperty("IsTest").GetBoolean());

        var lastYear = await MonthAsync(market, "2025-11");
        Assert.Empty(lastYear.GetProperty("orders").EnumerateArray());

        var bad = await market.App.Function<FailedOrderFunctions>().Month(new DefaultHttpContext { Request = { QueryString = new QueryString("?month=2026-13") } }.Request, CancellationToken.None);
        Assert.IsType<BadRequestObjectResult>(bad);
    }

    [Fact]
    public async Task A_failure_of_every_activity_counts_its_order_once_even_when_the_body_names_no_order()
    {
        // Every handler fails (000005), so each activity's body shape alone decides which order counts.
        await using var market = await LocalMarketplace.StartAsync(services: s => s.Replace(ServiceDescriptor.Singleton(sp =>
            new ActivityDispatcher(sp.GetServices<IActivityHandler>().Select(h => (IActivityHandler)new Failing(h.Activity))))));
        var activities = market.App.Services.GetRequiredService<ActivityDispatcher>().Activities;
        var instances = market.App.Services.GetRequiredService<InstanceRepository>();
        var licenses = market.App.Services.GetRequiredService<LicenseRepository>();
        var now = market.App.Clock.GetUtcNow();
        var expected = new List<string>();
        foreach (var activity in activities)
        {
            var name = activity.Replace(CallbackEnvelope.KitPrefix, string.Empty, StringComparison.Ordinal);
            var order = $"CS-{name}";
            expected.Add(order);
            string body;
            if (name is Activities.RefreshLicenseCode or Activities.UpdateLicenseCodeStatus or Activities.ReleaseLicenseCode)
            {
                await licenses.SaveAsync(new LicenseEntity { License = $"PL{name}", OrderId = order }, isNew: true, [], null, now, CancellationToken.None);
                body = $$"""{"activity":"{{name}}","license":"PL{{name}}"}""";
            }
            else if (name == Activities.NewInstance)
            {
                body = $$"""{"activity":"newInstance","orderId":"{{order}}","orderLineId":"{{order}}-1","businessId":"b-1"}""";
            }
            else
            {
                var id = $"kg-{name}";
                await instances.TryCreateAsync(
                    new InstanceEntity { InstanceId = id, OrderId = order, State = nameof(InstanceState.Ready), CreatedAt = now, UpdatedAt = now },
                    instances.Event("callback", "newInstance", order, null, InstanceState.Ready, "seeded"),
                    CancellationToken.None);
                body = activity.StartsWith(CallbackEnvelope.KitPrefix, StringComparison.Ordinal)
                    ? $$"""{"instanceId":"{{id}}","testFlag":0}"""
                    : $$"""{"activity":"{{name}}","instanceId":"{{id}}"}""";
            }

            for (var i = 0; i < 2; i++)
            {
                var reply = activity.StartsWith(CallbackEnvelope.KitPrefix, StringComparison.Ordinal)
                    ? await KitSyncTests.SyncAsync(market.App, name, body)
                    : await SignedCall.SendSignedAsync(market.App, body);
                Assert.True(reply.ResultCode == "000005", $"{activity}: {reply.Text}");
            }
        }

        var month = await MonthAsync(market);

        Assert.Equal(expected.Order(), month.GetProperty("orders").EnumerateArray().Select(o => o.GetProperty("OrderId").GetString()!).Order());
        Assert.Equal(activities.Count, month.GetProperty("count").GetInt32());
        Assert.True(activities.Count >= 15, string.Join(", ", activities)); // the basic, licence and kit activities
    }

    private sealed class Failing(string activity) : IActivityHandler
    {
        public string Activity { get; } = activity;

        public Task<KooGalleryResponse> HandleAsync(CallbackEnvelope request, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("storage is down (test)");
    }

    [Theory]
    [InlineData("000000", 4900, false)]
    [InlineData("000004", 100, false)]
    [InlineData("000000", 5001, true)]
    [InlineData("000002", 10, true)]
    [InlineData("000005", 10, true)]
    public void What_KooGallery_counts_as_a_failure(string code, int elapsedMs, bool failed) =>
        Assert.Equal(failed, FailedOrderLedger.IsFailure(code, TimeSpan.FromMilliseconds(elapsedMs)));

    [Fact]
    public async Task Months_follow_KooGallery_time_zone()
    {
        await using var market = await LocalMarketplace.StartAsync();
        var ledger = market.App.Services.GetRequiredService<FailedOrderLedger>();
        Assert.Equal("2026-12", ledger.MonthOf(DateTimeOffset.Parse("2026-11-30T16:30:00Z", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal("2026-11", ledger.MonthOf(DateTimeOffset.Parse("2026-11-30T15:59:59Z", System.Globalization.CultureInfo.InvariantCulture)));
    }
}
