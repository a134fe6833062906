using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KooGallery.Functions.DialTest;

/// <summary>The dial-test timer and its master-key endpoint.</summary>
public sealed class DialTestFunctions(DialTestRunner runner, DialTestStore store, TimeProvider time)
{
    /// <summary>Every <c>KooGalleryDialTestSchedule</c> (default every 15 minutes); does nothing until <c>DialTest__Url</c> is set.</summary>
    [Function("DialTest")]
    public Task Run([TimerTrigger("%" + DialTestOptions.ScheduleSetting + "%")] TimerInfo timer, CancellationToken cancellationToken) =>
        runner.RunAsync(cancellationToken);

    /// <summary><c>GET /api/ops/dial-test?take=20</c>: the last runs with every case, and the last 7 days.</summary>
    [Function("DialTestResults")]
    public async Task<IActionResult> Results(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/dial-test")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var take = int.TryParse(request.Query["take"].FirstOrDefault(), out var n) ? Math.Clamp(n, 1, 200) : 20;
        return new OkObjectResult(await DialTestView.ReadAsync(store, time.GetUtcNow(), take, cancellationToken).ConfigureAwait(false));
    }
}

/// <summary>What the console's card and the endpoint show: the last runs and one entry per day of the last 7.</summary>
public static class DialTestView
{
    public static async Task<object> ReadAsync(DialTestStore store, DateTimeOffset now, int take, CancellationToken cancellationToken)
    {
        var runs = store.RecentAsync(take, cancellationToken);
        var days = store.DaysAsync(now.AddDays(-6), cancellationToken);
        await Task.WhenAll(runs, days).ConfigureAwait(false);
        var byDay = days.Result.ToDictionary(d => d.Day, StringComparer.Ordinal);
        return new
        {
            last = runs.Result.Count > 0 ? runs.Result[0] : null,
            runs = runs.Result,
            days = Enumerable.Range(0, 7)
                .Select(i => now.AddDays(i - 6).UtcDateTime.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture))
                .Select(day => byDay.GetValueOrDefault(day) ?? new DialDayView(day, 0, 0, null, null)),
        };
    }
}
