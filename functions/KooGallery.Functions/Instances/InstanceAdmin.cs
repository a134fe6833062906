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
        return new OkObjectResult(new { instance = View(instance), events = events.Select(e => new { e.At, e.Kind, e.Activity, e.OrderId, from = e.FromState, to = e.ToState, e.Detail }) });
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
        if (outcome.Instance is null)
        {
            return new NotFoundObjectResult(new { error = outcome.Message });
        }

        var body = new { redriven = outcome.Redriven, message = outcome.Message, instance = View(outcome.Instance) };
        return outcome.Redriven ? new OkObjectResult(body) : new ConflictObjectResult(body);
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
        hasPassword = !string.IsNullOrEmpty(i.Password),
        i.Generation,
        i.CreatedAt,
        i.UpdatedAt,
        i.ReadyAt,
        i.ReleasedAt,
    };
}
