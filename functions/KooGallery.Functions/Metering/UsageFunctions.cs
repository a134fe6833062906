using System.Text;
using Azure;
using Azure.Storage.Queues.Models;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace KooGallery.Functions.Metering;

/// <summary>
/// <c>POST /api/usage</c> for the merchant's SaaS (function key): a batch of usage records, answered per
/// record. 200 whenever the batch was read (each record says accepted, duplicate or rejected and why); 400
/// for a body that is not a batch; 503 when storage failed — nothing of that call is half-counted, and a
/// retry with the same record ids is safe.
/// </summary>
public sealed class UsageIntakeHttp(UsageIntake intake, ILogger<UsageIntakeHttp> logger)
{
    private const int MaxBodyBytes = 1024 * 1024;

    [Function(nameof(UsageIntakeHttp))]
    public async Task<IActionResult> Run([HttpTrigger(AuthorizationLevel.Function, "post", Route = "usage")] HttpRequest request, CancellationToken cancellationToken)
    {
        if (request.ContentLength > MaxBodyBytes)
        {
            return new BadRequestObjectResult(new { error = $"the body exceeds {MaxBodyBytes} bytes." });
        }

        string text;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            text = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
        }

        var batch = UsageBatchInput.TryParse(text, out var error);
        if (batch?.Records is not { Count: > 0 } records)
        {
            return new BadRequestObjectResult(new { error = error ?? "records is missing or empty." });
        }

        try
        {
            var outcomes = await intake.AcceptAsync(records, null, cancellationToken).ConfigureAwait(false);
            return new OkObjectResult(new
            {
                accepted = outcomes.Count(o => o.Status == UsageRecordOutcome.Accepted),
                duplicate = outcomes.Count(o => o.Status == UsageRecordOutcome.Duplicate),
                rejected = outcomes.Count(o => o.Status == UsageRecordOutcome.Rejected),
                results = outcomes.Select(o => new { index = o.Index, recordId = o.RecordId, status = o.Status, error = o.Error }),
            });
        }
        catch (ArgumentOutOfRangeException ex)
        {
            return new BadRequestObjectResult(new { error = ex.Message.Split(Environment.NewLine)[0] });
        }
        catch (Exception ex) when (ex is RequestFailedException or AggregateException or InvalidOperationException)
        {
            logger.LogError(ex, "Usage intake of {Records} records failed on storage; the caller is told to retry.", records.Count);
            return new ObjectResult(new { error = "usage storage is unavailable; retry the same records (with recordIds a retry is never counted twice)." })
            {
                StatusCode = StatusCodes.Status503ServiceUnavailable,
            };
        }
    }
}

/// <summary>
/// The same intake from a Storage Queue the merchant's system writes to (Base64 JSON: a batch or one record).
/// A storage failure throws, so the message is retried; records without a recordId get message id + index,
/// so a retried message is not counted twice. Rejected records are logged; a message that is not a usage
/// batch at all ends in <c>&lt;queue&gt;-poison</c> for inspection rather than being dropped.
/// </summary>
public sealed class QueuedUsageIntake(UsageIntake intake)
{
    [Function(nameof(QueuedUsageIntake))]
    public async Task Run([QueueTrigger("%" + StorageOptions.UsageQueueSetting + "%")] QueueMessage message, CancellationToken cancellationToken)
    {
        var batch = UsageBatchInput.TryParse(QueueMessageBody.JsonText(message.Body), out var error);
        if (batch?.Records is not { Count: > 0 } records)
        {
            throw new FormatException($"Usage message {message.MessageId} is not a usage batch ({error ?? "no records"}); it will end in the poison queue.");
        }

        await intake.AcceptAsync(records, i => $"queue:{message.MessageId}:{i}", cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>The push job on its schedule (<c>KooGalleryUsagePushSchedule</c>, default 5 minutes past every hour).</summary>
public sealed class UsagePush(UsagePushJob job)
{
    [Function(nameof(UsagePush))]
    public Task Run([TimerTrigger("%" + MeteringOptions.ScheduleSetting + "%")] TimerInfo timer, CancellationToken cancellationToken) => job.RunAsync(cancellationToken);
}

/// <summary>Operators: the usage rows of an instance with their state and KooGallery's answers.</summary>
public sealed class UsageAdmin(UsageStore usage)
{
    [Function(nameof(UsageAdmin))]
    public async Task<IActionResult> Run(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/instances/{instanceId}/usage")] HttpRequest request,
        string instanceId,
        CancellationToken cancellationToken)
    {
        var rows = await usage.ListAsync(instanceId, cancellationToken).ConfigureAwait(false);
        return new OkObjectResult(rows.OrderBy(r => r.PeriodStart).ThenBy(r => r.Sequence).Select(r => new
        {
            r.PeriodStart,
            r.PeriodEnd,
            r.Sequence,
            r.RelatePackageInstance,
            r.UsageValue,
            r.RecordCount,
            r.MeteringSn,
            r.Status,
            r.PushAttempts,
            r.LastError,
            r.KooGalleryResultCode,
            r.KooGalleryResultMsg,
            r.SentAt,
        }));
    }
}
