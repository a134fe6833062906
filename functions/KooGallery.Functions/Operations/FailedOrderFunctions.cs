using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KooGallery.Functions.Operations;

/// <summary>Operator endpoint, behind the Functions admin (master) key: a month's failed orders against KooGallery's threshold.</summary>
public sealed class FailedOrderFunctions(FailedOrderLedger ledger, TimeProvider time)
{
    /// <summary><c>GET /api/ops/failed-orders?month=yyyy-MM</c> (default: this month in KooGallery's time zone).</summary>
    [Function("FailedOrdersOfMonth")]
    public async Task<IActionResult> Month(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/failed-orders")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var month = request.Query["month"].FirstOrDefault();
        if (string.IsNullOrEmpty(month))
        {
            month = ledger.MonthOf(time.GetUtcNow());
        }
        else if (!FailedOrderLedger.IsMonth(month))
        {
            return new BadRequestObjectResult(new { error = "month must be yyyy-MM, e.g. 2026-11." });
        }

        var result = await ledger.MonthAsync(month, cancellationToken).ConfigureAwait(false);
        return new OkObjectResult(result.View());
    }
}
