using KooGallery.Functions.Instances;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KooGallery.Functions.Instances;

/// <summary>
/// Operator endpoints, behind the Functions admin (master) key: read an instance with its event log, find
/// the instances of an order, re-drive a failed instance. Credentials are never shown.
/// </summary>
public sealed class InstanceAdmin(InstanceRepository instances, InstanceLifecycle lifecycle)
{
    [Function("InstanceAdminGet")]
    public async Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/instances/{instanceId}")] HttpRequest request,
        string instanceId,
        CancellationToken cancellationToken)
    {
        var instance = await instances.GetAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (instance is null)
        {
            return new NotFoundObjectResult(new { error = $"unknown instance {instanceId}" });
        }

        var events = await instances.EventsAsync(instanceId, cancellationToken).ConfigureAwait(false);
        return new OkObjectResult(new { instance = View(instance), events = events.Select(EventView) });
    }

    [Function("InstanceAdminByOrder")]
    public async Task<IActionResult> ByOrder(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/orders/{orderId}/instances")] HttpRequest request,
        string orderId,
        CancellationToken cancellationToken)
    {
        var found = await instances.FindByOrderAsync(orderId, cancellationToken).ConfigureAwait(false);
        return new OkObjectResult(found.Select(View));
    }

    [Function("InstanceAdminRedrive")]
    public async Task<IActionResult> Redrive(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "ops/instances/{instanceId}/redrive")] HttpRequest request,
        string instanceId,
        CancellationToken cancellationToken)
    {
        var outcome = await lifecycle.RedriveAsync(instanceId, cancellationToken).ConfigureAwait(false);
        return RedriveAnswer(outcome);
    }

    /// <summary>404 for an unknown instance, 200 when re-driven, 409 (with the reason) when it was not Failed.</summary>
    internal static ObjectResult RedriveAnswer(RedriveOutcome outcome)
    {
        if (outcome.Instance is null)
        {
            return new NotFoundObjectResult(new { error = outcome.Message });
        }

        var body = new { redriven = outcome.Redriven, message = outcome.Message, instance = View(outcome.Instance) };
        return outcome.Redriven ? new OkObjectResult(body) : new ConflictObjectResult(body);
    }

    internal static object BulkView(BulkRedriveResult r) =>
        new { r.Instance.InstanceId, r.Instance.OrderId, r.Instance.FailedAt, r.Instance.FailureReason, redriven = r.Redriven, message = r.Message };

    /// <summary>An event-log line as operators read it.</summary>
    internal static object EventView(InstanceEventEntity e) => new { e.At, e.Kind, e.Activity, e.OrderId, from = e.FromState, to = e.ToState, e.Detail };

    /// <summary>
    /// Re-drives every Failed instance, or those that failed in a time range (<c>failedAfter</c>,
    /// <c>failedBefore</c>, ISO 8601) and whose failure reason contains <c>error</c> (case-insensitive);
    /// <c>dryRun=true</c> lists them without acting. The answer lists what was done to each.
    /// </summary>
    [Function("InstanceAdminRedriveAll")]
    public async Task<IActionResult> RedriveAll(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "ops/redrive")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        if (!TryTime(request, "failedAfter", out var after) || !TryTime(request, "failedBefore", out var before))
        {
            return new BadRequestObjectResult(new { error = "failedAfter and failedBefore must be ISO 8601 times with a zone, e.g. 2026-11-29T08:00:00Z." });
        }

        var error = request.Query["error"].FirstOrDefault();
        var dryRun = string.Equals(request.Query["dryRun"].FirstOrDefault(), "true", StringComparison.OrdinalIgnoreCase);
        var results = await lifecycle.RedriveFailedAsync(after, before, error, dryRun, InstanceLifecycle.MasterKeyOperator, cancellationToken).ConfigureAwait(false);
        return new OkObjectResult(new { matched = results.Count, dryRun, results = results.Select(BulkView) });
    }

    private static bool TryTime(HttpRequest request, string name, out DateTimeOffset? value)
    {
        value = null;
        var text = request.Query[name].FirstOrDefault();
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var parsed))
        {
            value = parsed;
            return true;
        }

        return false;
    }

    internal static object View(InstanceEntity i) => new
    {
        i.InstanceId,
        i.OrderId,
        i.OrderLineId,
        productIdOfOrder = i.OrderProductId,
        i.BusinessId,
        i.IsTest,
        i.State,
        i.PendingWork,
        i.PendingSince,
        i.FailedWork,
        i.FailureReason,
        i.LastError,
        i.WorkerAttempts,
        i.ChargingMode,
        i.ProductId,
        i.SkuCode,
        i.LinearValue,
        i.ExpireTime,
        i.ExpiresAt,
        i.FrontEndUrl,
        i.AdminUrl,
        i.UserName,
        hasPassword = !string.IsNullOrEmpty(i.PasswordProtected),
        i.DesiredStatus,
        i.FailedAt,
        i.RetryingSince,
        i.NextAttemptAt,
        i.Generation,
        i.CreatedAt,
        i.UpdatedAt,
        i.ReadyAt,
        i.ReleasedAt,
    };
}
