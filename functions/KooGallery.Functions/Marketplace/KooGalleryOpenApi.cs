using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using KooGallery.Protocol.Json;
using Microsoft.Extensions.Logging;
using KooGallery.Functions.Outbound;

namespace KooGallery.Functions.Marketplace;

/// <summary>
/// KooGallery's open API as the merchant calls it (§5.9): query order, usage push, licences, market
/// events. Signing, retries, the circuit breaker and the host fallback are handlers of the named HttpClient;
/// this class builds requests and turns answers into typed results or clear exceptions. It is a singleton
/// that takes a client from the factory for every call, so the factory's handler rotation (and with it DNS
/// changes of KooGallery's hosts) reaches long-lived callers too.
/// </summary>
public sealed class KooGalleryOpenApi(IHttpClientFactory clients, ILogger<KooGalleryOpenApi> logger)
{
    /// <summary>The name of the HttpClient with the open-API handler chain.</summary>
    public const string ClientName = nameof(KooGalleryOpenApi);

    public const string QueryOrderPath = "/api/mkp-openapi-public/global/v1/order/query";
    public const string UsagePushPath = "/api/mkp-openapi-public/global/v1/isv/usage-data";
    public const int MaxUsageRecordsPerPush = 1000;
    public const string LicenseActivatePath = "/api/mkp-openapi-public/global/v1/license/activate";
    public const string LicenseQueryPath = "/api/mkp-openapi-public/global/v1/license/heartbeat";
    public const string LicenseBatchQueryPath = "/api/mkp-openapi-public/global/v2/license/heartbeat";

    /// <summary>Market-event upload (§5.9.4), under the event's id.</summary>
    public static string MarketEventUploadPath(string eventId) => $"/api/mkp-openapi-public/global/v1/market-event/{Uri.EscapeDataString(eventId)}/file";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowReadingFromString,
    };

    /// <summary>Reads an order (and optionally one line of it). Mock orders (<c>MOCK…</c>) work the same way.</summary>
    public async Task<KooGalleryOrder> QueryOrderAsync(string orderId, string? orderLineId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(orderId);
        var query = $"?orderId={Uri.EscapeDataString(orderId)}" + (orderLineId is null ? string.Empty : $"&orderLineId={Uri.EscapeDataString(orderLineId)}");
        using var request = new HttpRequestMessage(HttpMethod.Get, QueryOrderPath + query);
        var (answer, _) = await SendAsync(request, "query order", cancellationToken).ConfigureAwait(false);
        if (answer.OrderInfo is null)
        {
            throw new MarketplaceMalformedAnswerException("query order", $"success without orderInfo for order {orderId}");
        }

        logger.LogInformation(
            "Queried KooGallery order {OrderId} line {OrderLineId}: {Lines} line(s), charging mode {ChargingMode}.",
            orderId, orderLineId, answer.OrderInfo.OrderLines.Count, answer.OrderInfo.Line(orderLineId)?.ChargingMode);
        return answer.OrderInfo;
    }

    /// <summary>
    /// Pushes up to 1000 usage records. The body is serialised with keys sorted at every depth and sent as
    /// exactly the bytes that the body signature covers.
    /// </summary>
    public async Task<UsagePushResult> PushUsageAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        if (records.Count is 0 or > MaxUsageRecordsPerPush)
        {
            throw new ArgumentOutOfRangeException(nameof(records), records.Count, $"A usage push carries 1 to {MaxUsageRecordsPerPush} records.");
        }

        using var document = JsonSerializer.SerializeToDocument(new { usage_records = records });
        var body = CanonicalJson.SortDeep(document.RootElement);
        using var request = new HttpRequestMessage(HttpMethod.Post, UsagePushPath) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "UTF-8" };
        request.Options.Set(ApigSigningHandler.UsagePushBodySignature, true);
        var (answer, raw) = await SendAsync(request, "usage push", cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Pushed {Records} usage records to KooGallery: {ResultCode}.", records.Count, answer.ResultCode);
        return new UsagePushResult(answer.ResultCode!, answer.ResultMsg, raw);
    }

    /// <summary>Activates a licence code (§5.9.5). A refusal throws <see cref="MarketplaceBusinessException"/> with KooGallery's code and message.</summary>
    public async Task<string> ActivateLicenseAsync(string license, CancellationToken cancellationToken)
    {
        using var request = JsonRequest(LicenseActivatePath, new { license });
        var (_, raw) = await SendAsync(request, "license activate", cancellationToken).ConfigureAwait(false);
        return raw;
    }

    /// <summary>Queries one licence (the former "heartbeat", §5.9.5); returns KooGallery's raw answer.</summary>
    public async Task<string> QueryLicenseAsync(string license, CancellationToken cancellationToken)
    {
        using var request = JsonRequest(LicenseQueryPath, new { license });
        var (_, raw) = await SendAsync(request, "license query", cancellationToken).ConfigureAwait(false);
        return raw;
    }

    /// <summary>Queries several licences at once (the batch query, v2); returns KooGallery's raw answer.</summary>
    public async Task<string> QueryLicensesAsync(IReadOnlyList<string> licenses, CancellationToken cancellationToken)
    {
        using var request = JsonRequest(LicenseBatchQueryPath, new { licenses });
        var (_, raw) = await SendAsync(request, "license batch query", cancellationToken).ConfigureAwait(false);
        return raw;
    }

    /// <summary>
    /// Uploads a string (<c>type=CHARACTERS</c>) or a file for a market event (§5.9.4), as multipart form
    /// fields <c>type</c> and <c>content</c> or <c>file</c> — the parameter table is not published; see
    /// <see cref="MarketEventUpload"/> for every assumption.
    /// </summary>
    public async Task<string> UploadMarketEventAsync(MarketEventUpload upload, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, MarketEventUploadPath(upload.EventId))
        {
            Content = upload.ToContent(),
        };
        var (_, raw) = await SendAsync(request, "market-event upload", cancellationToken).ConfigureAwait(false);
        return raw;
    }

    private static HttpRequestMessage JsonRequest(string path, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body)) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "UTF-8" };
        return request;
    }

    private async Task<(OpenApiAnswer Answer, string Raw)> SendAsync(HttpRequestMessage request, string operation, CancellationToken cancellationToken)
    {
        using var http = clients.CreateClient(ClientName);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (OutboundFailures.IsUnanswered(ex, cancellationToken))
        {
            throw new MarketplaceUnavailableException(operation, ex);
        }

        using (response)
        {
            var raw = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            var answer = TryParse(raw);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new MarketplaceGatewayException(operation, (int)response.StatusCode, answer?.GatewayErrorCode ?? answer?.ResultCode, answer?.GatewayErrorMsg ?? answer?.ResultMsg ?? Cut(raw));
            }

            if (answer?.ResultCode is null)
            {
                throw new MarketplaceMalformedAnswerException(operation, Cut(raw));
            }

            if (answer.ResultCode != OpenApiResultCodes.Success)
            {
                throw new MarketplaceBusinessException(operation, answer.ResultCode, answer.ResultMsg);
            }

            return (answer, raw);
        }
    }

    private static OpenApiAnswer? TryParse(string raw)
    {
        try
        {
            return JsonSerializer.Deserialize<OpenApiAnswer>(raw, Json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Cut(string value) => value.Length > 300 ? value[..300] + "…" : value;
}
