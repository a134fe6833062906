using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Http;
using KooGallery.Functions.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Metering;

/// <summary>
/// <c>POST /api/usage</c> for the merchant's SaaS (function key): a batch of usage records, answered per
/// record. 200 when every record was dealt with (each says accepted, duplicate or rejected and why); 400
/// for a body that is not a batch; 413 over 1 MiB; 503 when storage failed part-way — the answer still lists
/// which records were counted, and sending the same batch again is always safe.
/// </summary>
public sealed class UsageIntakeHttp(UsageIntake intake, IOptionsMonitor<MeteringOptions> options)
{
    public const int MaxBodyBytes = 1024 * 1024;

    [Function(nameof(UsageIntakeHttp))]
    public async Task<IActionResult> Run([HttpTrigger(AuthorizationLevel.Function, "post", Route = "usage")] HttpRequest request, CancellationToken cancellationToken)
    {
        byte[]? body;
        try
        {
            body = await BoundedBody.ReadAsync(request, MaxBodyBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or BadHttpRequestException)
        {
            return new BadRequestObjectResult(new { error = "the body could not be read completely." });
        }

        if (body is null)
        {
            return new ObjectResult(new { error = $"the body exceeds {MaxBodyBytes} bytes; send at most {options.CurrentValue.MaxRecordsPerIntake} records per call." }) { StatusCode = StatusCodes.Status413PayloadTooLarge };
        }

        var records = UsageBatchInput.TryParse(body, out var error);
        if (records is null)
        {
            return new BadRequestObjectResult(new { error });
        }

        if (records.Count > options.CurrentValue.MaxRecordsPerIntake)
        {
            return new BadRequestObjectResult(new { error = $"{records.Count} records; at most {options.CurrentValue.MaxRecordsPerIntake} per call (Metering__MaxRecordsPerIntake)." });
        }

        var result = await intake.AcceptAsync(records, cancellationToken).ConfigureAwait(false);
        var answer = new
        {
            accepted = result.Count(UsageRecordOutcome.Accepted),
            duplicate = result.Count(UsageRecordOutcome.Duplicate),
            rejected = result.Count(UsageRecordOutcome.Rejected),
            notProcessed = result.Count(UsageRecordOutcome.NotProcessed),
            error = result.Complete ? null : "usage storage failed part-way: the records marked not-processed are not confirmed; send the same batch again (records already counted come back as duplicate).",
            results = result.Outcomes.Select(o => new { index = o.Index, recordId = o.RecordId, status = o.Status, error = o.Error, note = o.Note }),
        };
        return result.Complete ? new OkObjectResult(answer) : new ObjectResult(answer) { StatusCode = StatusCodes.Status503ServiceUnavailable };
    }
}

/// <summary>
/// The same intake from a Storage Queue the merchant's system writes to (Base64 JSON: a batch or one record).
/// Records carry deterministic ids, so a message delivered again is counted once. A message that is not a
/// usage batch is parked at once (retrying cannot fix it); when storage fails the message is retried, and
/// after <c>maxDequeueCount</c> deliveries <see cref="ParkPoisonedUsage"/> parks it.
/// </summary>
public sealed class QueuedUsageIntake(UsageIntake intake, UsageParking parking)
{
    [Function(nameof(QueuedUsageIntake))]
    public async Task Run([QueueTrigger("%" + StorageOptions.UsageQueueSetting + "%")] QueueMessage message, CancellationToken cancellationToken)
    {
        var text = QueueMessageBody.JsonText(message.Body);
        var records = UsageBatchInput.TryParse(System.Text.Encoding.UTF8.GetBytes(text), out var error);
        if (records is null)
        {
            await parking.ParkAsync(message.MessageId, text, $"not a usage batch: {error}", message.DequeueCount, cancellationToken).ConfigureAwait(false);
            return;
        }

        var result = await intake.AcceptAsync(records, cancellationToken).ConfigureAwait(false);
        if (!result.Complete)
        {
            throw new InvalidOperationException($"Usage message {message.MessageId}: storage failed part-way ({result.Failure}); the message is retried (counted records are duplicates then).");
        }
    }
}

/// <summary>
/// Usage messages the queue gave up on: tried once more, then parked with the reason and alerted. When even the
/// parking write fails (storage still down), the message is put back on this queue, hidden for a while, rather
/// than thrown: thrown, it would end after <c>maxDequeueCount</c> tries in a <c>…-poison-poison</c> queue
/// nothing reads. It is deleted from here only once its copy is queued.
/// </summary>
public sealed class ParkPoisonedUsage(UsageIntake intake, UsageParking parking, QueueServiceClient queues, IOptions<StorageOptions> names, ILogger<ParkPoisonedUsage> logger)
{
    /// <summary>How long a batch that could not even be parked waits before it is tried again.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMinutes(5);

    [Function(nameof(ParkPoisonedUsage))]
    public async Task Run([QueueTrigger("%" + StorageOptions.UsageQueueSetting + "%-poison")] QueueMessage message, CancellationToken cancellationToken)
    {
        var text = QueueMessageBody.JsonText(message.Body);
        try
        {
            var records = UsageBatchInput.TryParse(System.Text.Encoding.UTF8.GetBytes(text), out var error);
            var reason = records is null ? $"not a usage batch: {error}" : null;
            if (records is not null)
            {
                var result = await intake.AcceptAsync(records, cancellationToken).ConfigureAwait(false);
                if (result.Complete)
                {
                    return; // storage is back: counted now
                }

                reason = $"failed {message.DequeueCount} deliveries; last: {result.Failure}";
            }

            await parking.ParkAsync(message.MessageId, text, reason!, message.DequeueCount, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Not even parked: queue a copy to try again later (a failure here throws, and the host retries this one).
            var poison = queues.GetQueueClient(names.Value.UsageQueue + "-poison");
            await poison.SendMessageAsync(BinaryData.FromString(text), RetryDelay, cancellationToken: cancellationToken).ConfigureAwait(false);

            // The parked-usage alert keys on this line too.
            logger.LogError("PARKED USAGE: usage message {MessageId} could not be parked ({Error}); queued again on the poison queue to be tried in {Minutes} min.", message.MessageId, ex.Message, RetryDelay.TotalMinutes);
        }
    }
}

/// <summary>Parks usage batches that cannot be taken now, where operators see them; never silently.</summary>
public sealed class UsageParking(UsageStore usage, UsageIntake intake, TimeProvider time, ILogger<UsageParking> logger)
{
    public async Task ParkAsync(string messageId, string body, string reason, long dequeueCount, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var parked = new ParkedUsageEntity
        {
            RowKey = Instances.InstanceKeys.Escape(messageId),
            MessageId = messageId,
            Body = body.Length > 60_000 ? body[..60_000] : body,
            Reason = reason.Length > 1000 ? reason[..1000] : reason,
            DequeueCount = dequeueCount,
            ParkedAt = now,
        };
        await usage.ParkAsync(parked, cancellationToken).ConfigureAwait(false);

        // The parked-usage alert keys on this line.
        logger.LogError("PARKED USAGE: usage message {MessageId} was parked ({Reason}); read and re-drive it with /api/ops/usage/parked.", messageId, parked.Reason);
    }

    /// <summary>Takes a parked batch again; it is unparked when every record was dealt with.</summary>
    public async Task<UsageIntakeResult?> RedriveAsync(string id, CancellationToken cancellationToken, string actor = Instances.InstanceLifecycle.MasterKeyOperator)
    {
        var parked = await usage.ParkedAsync(id, cancellationToken).ConfigureAwait(false);
        if (parked is null)
        {
            return null;
        }

        var records = UsageBatchInput.TryParse(System.Text.Encoding.UTF8.GetBytes(parked.Body), out var error);
        if (records is null)
        {
            return new UsageIntakeResult([], false, $"still not a usage batch: {error}");
        }

        var result = await intake.AcceptAsync(records, cancellationToken).ConfigureAwait(false);
        if (result.Complete)
        {
            await usage.UnparkAsync(parked, cancellationToken).ConfigureAwait(false);
            logger.LogWarning("Parked usage message {MessageId} re-driven by {Operator}: {Accepted} accepted, {Duplicate} duplicate, {Rejected} rejected.", parked.MessageId, actor, result.Count(UsageRecordOutcome.Accepted), result.Count(UsageRecordOutcome.Duplicate), result.Count(UsageRecordOutcome.Rejected));
        }

        return result;
    }
}

/// <summary>The push job on its schedule (<c>KooGalleryUsagePushSchedule</c>, default 5 minutes past every hour).</summary>
public sealed class UsagePush(UsagePushJob job)
{
    [Function(nameof(UsagePush))]
    public Task Run([TimerTrigger("%" + MeteringOptions.ScheduleSetting + "%")] TimerInfo timer, CancellationToken cancellationToken) => job.RunAsync(cancellationToken);
}

/// <summary>Operators: an instance's usage rows with KooGallery's answers; parked batches and refused rows, listed and re-driven.</summary>
public sealed class UsageAdmin(UsageStore usage, UsageParking parking, RejectedUsageRedrive redrive, TimeProvider time)
{
    [Function(nameof(UsageAdmin))]
    public async Task<IActionResult> Run(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/instances/{instanceId}/usage")] HttpRequest request,
        string instanceId,
        CancellationToken cancellationToken)
    {
        if (!UsageListWindow.TryRead(request.Query["from"], request.Query["to"], time.GetUtcNow(), out var from, out var to, out var problem))
        {
            return new BadRequestObjectResult(new { error = problem });
        }

        var rows = await usage.ListAsync(instanceId, from, to, cancellationToken).ConfigureAwait(false);
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
            r.OfferedAt,
            r.RedrivenBy,
            r.RedrivenAt,
        }));
    }

    [Function("UsageAdminParked")]
    public async Task<IActionResult> Parked(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/usage/parked")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var parked = await usage.ParkedAsync(cancellationToken).ConfigureAwait(false);
        return new OkObjectResult(parked.OrderBy(p => p.ParkedAt).Select(p => new { id = p.RowKey, p.MessageId, p.ParkedAt, p.Reason, p.DequeueCount, p.Body }));
    }

    [Function("UsageAdminRedriveParked")]
    public async Task<IActionResult> RedriveParked(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "ops/usage/parked/{id}/redrive")] HttpRequest request,
        string id,
        CancellationToken cancellationToken)
    {
        var result = await parking.RedriveAsync(id, cancellationToken).ConfigureAwait(false);
        return RedriveParkedAnswer(id, result);
    }

    [Function("UsageAdminRejected")]
    public async Task<IActionResult> Rejected(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/usage/rejected")] HttpRequest request,
        CancellationToken cancellationToken) =>
        new OkObjectResult((await usage.RejectedAsync(cancellationToken).ConfigureAwait(false)).Select(RejectedView));

    /// <summary>
    /// Re-drives usage rows KooGallery refused: all of them, or one instance's (<c>?instanceId=</c>), or one row
    /// (<c>?id=</c> from the list). Each goes out again as it was sealed, under its <c>metering_sn</c>.
    /// </summary>
    [Function("UsageAdminRedriveRejected")]
    public async Task<IActionResult> RedriveRejected(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "ops/usage/rejected/redrive")] HttpRequest request,
        CancellationToken cancellationToken) =>
        new OkObjectResult(await redrive.RedriveAsync(request.Query["instanceId"].FirstOrDefault(), request.Query["id"].FirstOrDefault(), Instances.InstanceLifecycle.MasterKeyOperator, cancellationToken).ConfigureAwait(false));

    internal static object RejectedView(UsageRejectedEntity r) =>
        new { id = r.RowKey, r.InstanceId, r.PeriodStart, r.RelatePackageInstance, r.UsageValue, r.MeteringSn, r.ResultCode, r.ResultMsg, r.RejectedAt };

    /// <summary>404 for an unknown batch, 200 when every record was dealt with, 409 (with each record's outcome) when it stays parked.</summary>
    internal static ObjectResult RedriveParkedAnswer(string id, UsageIntakeResult? result)
    {
        if (result is null)
        {
            return new NotFoundObjectResult(new { error = $"no parked usage batch {id}" });
        }

        var body = new
        {
            redriven = result.Complete,
            error = result.Failure,
            accepted = result.Count(UsageRecordOutcome.Accepted),
            duplicate = result.Count(UsageRecordOutcome.Duplicate),
            rejected = result.Count(UsageRecordOutcome.Rejected),
            results = result.Outcomes,
        };
        return result.Complete ? new OkObjectResult(body) : new ConflictObjectResult(body);
    }
}

/// <summary>What an operator's re-drive of refused usage did.</summary>
public sealed record RejectedRedriveResult(int Redriven, int Gone, IReadOnlyList<string> Failures);

/// <summary>Puts usage rows KooGallery refused back in the push's way, recorded with the operator; goes on past a failing row and reports it.</summary>
public sealed class RejectedUsageRedrive(UsageStore usage, ILogger<RejectedUsageRedrive> logger)
{
    public async Task<RejectedRedriveResult> RedriveAsync(string? instanceId, string? id, string actor, CancellationToken cancellationToken)
    {
        var rejected = (await usage.RejectedAsync(cancellationToken).ConfigureAwait(false))
            .Where(r => (instanceId is null || r.InstanceId == instanceId) && (id is null || r.RowKey == id))
            .ToList();
        int redriven = 0, gone = 0;
        var failures = new List<string>();
        foreach (var row in rejected)
        {
            try
            {
                if (await usage.RedriveRejectedAsync(row, actor, cancellationToken).ConfigureAwait(false) is null)
                {
                    gone++;
                    continue;
                }

                redriven++;
                logger.LogWarning("Refused usage of instance {InstanceId} for {PeriodStart:O} (metering_sn {MeteringSn}, value {UsageValue}) re-driven by {Operator}; it goes out on the next push run.", row.InstanceId, row.PeriodStart, row.MeteringSn, row.UsageValue, actor);
            }
            catch (Exception ex) when (ex is Azure.RequestFailedException or InvalidOperationException)
            {
                failures.Add($"{row.RowKey}: {ex.GetType().Name}: {ex.Message}");
                logger.LogError("Re-drive of refused usage {Id} by {Operator} failed: {Error}", row.RowKey, actor, ex.Message);
            }
        }

        return new RejectedRedriveResult(redriven, gone, failures);
    }
}

/// <summary>
/// The hours an operator's usage listing covers: <c>from</c> and <c>to</c> (ISO 8601, by period end), by default the
/// last 7 days, at most 31 days — each hour in it is one bounded read.
/// </summary>
public static class UsageListWindow
{
    public static readonly TimeSpan Default = TimeSpan.FromDays(7);

    public static readonly TimeSpan Longest = TimeSpan.FromDays(31);

    public static bool TryRead(string? fromText, string? toText, DateTimeOffset now, out DateTimeOffset from, out DateTimeOffset to, out string? problem)
    {
        from = to = default;
        problem = null;
        var styles = System.Globalization.DateTimeStyles.AssumeUniversal;
        if (!string.IsNullOrEmpty(toText) && !DateTimeOffset.TryParse(toText, System.Globalization.CultureInfo.InvariantCulture, styles, out to))
        {
            problem = "to must be an ISO 8601 date or time, e.g. 2026-12-03T10:00:00Z.";
            return false;
        }

        to = string.IsNullOrEmpty(toText) ? now : to;
        if (!string.IsNullOrEmpty(fromText) && !DateTimeOffset.TryParse(fromText, System.Globalization.CultureInfo.InvariantCulture, styles, out from))
        {
            problem = "from must be an ISO 8601 date or time, e.g. 2026-11-26T00:00:00Z.";
            return false;
        }

        from = string.IsNullOrEmpty(fromText) ? to - Default : from;
        if (from > to || to - from > Longest)
        {
            problem = $"from must be before to, and the window at most {Longest.TotalDays:F0} days.";
            return false;
        }

        return true;
    }
}
