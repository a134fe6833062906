using System.Text.Json;
using Azure.Storage.Queues.Models;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Http;
using KooGallery.Functions.Marketplace;
using KooGallery.Functions.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace KooGallery.Functions.Licensing;

/// <summary>
/// For the merchant's software (function key, like usage intake): activate a licence the customer typed in,
/// and ask whether a licence may be used now.
/// </summary>
public sealed class LicenseEndpoints(LicenseService licenses)
{
    private const int MaxBodyBytes = 4096;

    [Function("LicenseActivate")]
    public async Task<IActionResult> Activate(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "licenses/activate")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        var input = await ReadAsync(request, cancellationToken).ConfigureAwait(false);
        if (input is null)
        {
            return new BadRequestObjectResult(new { error = "the body must be {\"license\":\"PL…\",\"account\":\"…\",\"machine\":\"…\"} (license at most 64 characters, account and machine at most 128)." });
        }

        var outcome = await licenses.ActivateAsync(input.License, input.Account, input.Machine, cancellationToken).ConfigureAwait(false);
        var body = new { license = input.License, activated = outcome.Activated, again = outcome.Again, reason = outcome.Reason, verdict = outcome.Verdict };
        return outcome switch
        {
            { Activated: true } => new OkObjectResult(body),
            { Unreachable: true } => new ObjectResult(body) { StatusCode = StatusCodes.Status503ServiceUnavailable },
            _ => new ConflictObjectResult(body),
        };
    }

    [Function("LicenseCheck")]
    public async Task<IActionResult> Check(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "licenses/{license}")] HttpRequest request,
        string license,
        CancellationToken cancellationToken)
    {
        if (!LicenseInput.IsLicense(license))
        {
            return new BadRequestObjectResult(new { error = "a licence code is 1–64 printable characters." });
        }

        return new OkObjectResult(await licenses.CheckAsync(license, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<LicenseInput?> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            var body = await BoundedBody.ReadAsync(request, MaxBodyBytes, cancellationToken).ConfigureAwait(false);
            var input = body is null ? null : JsonSerializer.Deserialize<LicenseInput>(body, JsonSerializerOptions.Web);
            return input is not null && LicenseInput.IsLicense(input.License) && input.Account is not { Length: > 128 } && input.Machine is not { Length: > 128 } ? input : null;
        }
        catch (Exception ex) when (ex is JsonException or IOException or BadHttpRequestException or InvalidOperationException)
        {
            return null;
        }
    }

    private sealed record LicenseInput(string License, string? Account, string? Machine)
    {
        public static bool IsLicense(string? value) => value is { Length: > 0 and <= 64 } && value.All(c => c is > ' ' and < '\u007f' and not ('/' or '\\' or '#' or '?'));
    }
}

/// <summary>Operators: a licence with its event log; uploading a market-event string or file to KooGallery.</summary>
public sealed class LicenseAdmin(LicenseRepository licenses, KooGalleryOpenApi koogallery, ILogger<LicenseAdmin> logger)
{
    [Function("LicenseAdminGet")]
    public async Task<IActionResult> Get(
        [HttpTrigger(AuthorizationLevel.Admin, "get", Route = "ops/licenses/{license}")] HttpRequest request,
        string license,
        CancellationToken cancellationToken)
    {
        var entity = await licenses.GetAsync(license, cancellationToken).ConfigureAwait(false);
        if (entity is null)
        {
            return new NotFoundObjectResult(new { error = $"unknown licence {license}" });
        }

        var events = await licenses.EventsAsync(license, cancellationToken).ConfigureAwait(false);
        return new OkObjectResult(new
        {
            licence = new
            {
                entity.License, entity.Status, entity.IsTest, entity.ExpireTime, entity.ExpiresAt, entity.ProductId, entity.OrderId, entity.LastScene,
                entity.ActivatedAt, entity.ActivatedAccount, entity.ActivatedMachine, entity.QueriedAt, entity.QueryAnswer, entity.RefusedReason, entity.RefreshDue,
                entity.Version, entity.NotifiedVersion, entity.NotifyError, entity.CreatedAt, entity.UpdatedAt,
            },
            events = events.Select(e => new { e.At, e.Kind, e.Activity, e.OrderId, e.Detail }),
        });
    }

    /// <summary>
    /// <c>POST /api/ops/market-events/{eventId}[?type=FILE&amp;fileName=…]</c>: the body is the string
    /// (<c>CHARACTERS</c>, the default) or the file, sent to KooGallery's market-event upload.
    /// </summary>
    [Function("MarketEventUpload")]
    public async Task<IActionResult> Upload(
        [HttpTrigger(AuthorizationLevel.Admin, "post", Route = "ops/market-events/{eventId}")] HttpRequest request,
        string eventId,
        CancellationToken cancellationToken)
    {
        var body = await BoundedBody.ReadAsync(request, 10 * 1024 * 1024, cancellationToken).ConfigureAwait(false);
        if (body is null || eventId.Length is 0 or > 64)
        {
            return new BadRequestObjectResult(new { error = "an event id of at most 64 characters and a body of at most 10 MiB." });
        }

        var type = request.Query["type"].FirstOrDefault() ?? MarketEventUpload.CharactersType;
        MarketEventUpload upload;
        if (type == MarketEventUpload.CharactersType)
        {
            upload = MarketEventUpload.Text(eventId, System.Text.Encoding.UTF8.GetString(body));
        }
        else if (type == MarketEventUpload.FileType)
        {
            upload = MarketEventUpload.Stream(eventId, body, request.Query["fileName"].FirstOrDefault() ?? "upload.bin");
        }
        else
        {
            return new BadRequestObjectResult(new { error = "type must be CHARACTERS or FILE." });
        }

        try
        {
            var answer = await koogallery.UploadMarketEventAsync(upload, cancellationToken).ConfigureAwait(false);
            logger.LogInformation("Market event {EventId} uploaded ({Type}, {Bytes} bytes).", eventId, type, body.Length);
            return new OkObjectResult(new { uploaded = true, eventId, type, answer = JsonDocument.Parse(answer).RootElement.Clone() });
        }
        catch (MarketplaceException ex)
        {
            logger.LogWarning("Market event {EventId} upload failed: {Error}", eventId, ex.Message);
            return new ObjectResult(new { uploaded = false, eventId, error = ex.Message }) { StatusCode = ex.IsTransient ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status502BadGateway };
        }
    }
}

/// <summary>The queue side of licences: tells the merchant's systems of each change.</summary>
public sealed class NotifyLicenseChange(LicenseNotifier notifier, ILogger<NotifyLicenseChange> logger)
{
    [Function(nameof(NotifyLicenseChange))]
    public async Task Run([QueueTrigger("%" + StorageOptions.LicenseQueueSetting + "%")] QueueMessage message, CancellationToken cancellationToken)
    {
        if (LicenseWork.FromQueueBody(message.Body) is not { } work)
        {
            logger.LogError("Unreadable licence message {MessageId} dropped.", message.MessageId);
            return;
        }

        await notifier.ProcessAsync(work.License, cancellationToken).ConfigureAwait(false);
    }
}
