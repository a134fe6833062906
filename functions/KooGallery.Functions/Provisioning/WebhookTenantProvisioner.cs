using System.Net.Http.Headers;
using System.Text.Json;
using KooGallery.Functions.Outbound;
using KooGallery.Protocol.Tenant;
using KooGallery.Protocol.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Provisioning;

/// <summary>
/// Sends every event to the merchant's tenant API: <c>POST {BaseUrl}/{event}</c> with a JSON body, an
/// <c>Idempotency-Key</c> and the <c>X-KooGallery-Signature</c> HMAC (docs/lifecycle.md, "Tenant webhook contract").
/// Network errors, timeouts, 5xx, 408 and 429 are retried by the client's Polly policies; any other 4xx
/// is the merchant's refusal and is not.
/// </summary>
public sealed class WebhookTenantProvisioner(
    HttpClient http,
    IOptionsMonitor<ProvisioningOptions> options,
    TimeProvider time,
    ILogger<WebhookTenantProvisioner> logger) : ITenantProvisioner
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    public async Task<AppInfo> ProvisionAsync(ProvisionTenant tenant, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(tenant, new { order = tenant.Order, orderLineId = tenant.OrderLineId }, cancellationToken).ConfigureAwait(false);
        var app = Deserialize<AppInfoReply>(tenant, reply)
            ?? throw new TenantProvisioningException($"The tenant API's provision answer for instance {tenant.InstanceId} is empty.", isTransient: true);
        if (!CustomerUrls.IsAcceptable(app.FrontEndUrl) || (app.AdminUrl is not null && !CustomerUrls.IsAcceptable(app.AdminUrl)))
        {
            throw new TenantProvisioningException(
                $"The tenant API's provision answer for instance {tenant.InstanceId} has no usable frontEndUrl/adminUrl (absolute https URL, http only on loopback, at most {AppInfo.MaxUrlLength} characters).",
                isTransient: false);
        }

        return new AppInfo(app.FrontEndUrl!, app.AdminUrl, app.UserName, app.Password, app.Memo);
    }

    public Task UpdateExpiryAsync(UpdateTenantExpiry change, CancellationToken cancellationToken) =>
        SendAsync(change, new { orderId = change.OrderId, scene = change.Scene, expireTime = change.ExpireTime, expiresAt = change.ExpiresAt, productId = change.ProductId }, cancellationToken);

    public Task SuspendAsync(SuspendTenant change, CancellationToken cancellationToken) => SendAsync(change, new { }, cancellationToken);

    public Task ResumeAsync(ResumeTenant change, CancellationToken cancellationToken) => SendAsync(change, new { }, cancellationToken);

    public Task UpgradeAsync(UpgradeTenant change, CancellationToken cancellationToken) =>
        SendAsync(change, new { orderId = change.OrderId, orderLineId = change.OrderLineId, order = change.Order }, cancellationToken);

    public Task ReleaseAsync(ReleaseTenant change, CancellationToken cancellationToken) =>
        SendAsync(change, new { orderId = change.OrderId }, cancellationToken);

    public Task NotifyKitAsync(KitNotice notice, CancellationToken cancellationToken) => SendAsync(notice, notice.Data, cancellationToken);

    public Task NotifyLicenseAsync(LicenseNotice notice, CancellationToken cancellationToken) =>
        SendAsync(notice, new { license = notice.License, status = notice.Status, expireTime = notice.ExpireTime, expiresAt = notice.ExpiresAt, productId = notice.ProductId, orderId = notice.OrderId, scene = notice.Scene, version = notice.Version }, cancellationToken);

    public async Task<SpecChangeVerdict> CheckSpecChangeAsync(CheckTenantSpecChange check, CancellationToken cancellationToken)
    {
        var reply = await SendAsync(check, new { productInfo = check.ProductInfo }, cancellationToken).ConfigureAwait(false);
        var verdict = Deserialize<SpecChangeReply>(check, reply)
            ?? throw new TenantProvisioningException($"The tenant API's check-spec-change answer for instance {check.InstanceId} is empty.", isTransient: true);
        return new SpecChangeVerdict(verdict.Allowed, verdict.Reason);
    }

    private async Task<string> SendAsync(TenantEvent tenantEvent, object data, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue.Webhook;
        var body = JsonSerializer.SerializeToUtf8Bytes(new WebhookEnvelope(
            tenantEvent.Name, tenantEvent.IdempotencyKey, tenantEvent.InstanceId, tenantEvent.IsTest, time.GetUtcNow(), data), Json);

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(new Uri(settings.BaseUrl!.TrimEnd('/') + "/"), tenantEvent.Name))
        {
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.TryAddWithoutValidation(TenantWebhookSignature.EventHeader, tenantEvent.Name);
        request.Headers.TryAddWithoutValidation(TenantWebhookSignature.IdempotencyHeader, tenantEvent.IdempotencyKey);
        request.Headers.TryAddWithoutValidation(TenantWebhookSignature.HeaderName, TenantWebhookSignature.HeaderValue(settings.Secret!, time.GetUtcNow(), body));

        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (OutboundFailures.IsUnanswered(ex, cancellationToken))
        {
            throw new TenantProvisioningException($"The tenant API could not be reached for {tenantEvent.Name} of instance {tenantEvent.InstanceId}: {ex.GetType().Name}.", isTransient: true, ex);
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                logger.LogInformation("Tenant API accepted {Event} for instance {InstanceId} (HTTP {Status}).", tenantEvent.Name, tenantEvent.InstanceId, (int)response.StatusCode);
                return text;
            }

            var transient = OutboundFailures.IsTransientStatus((int)response.StatusCode);
            throw new TenantProvisioningException(
                $"The tenant API answered HTTP {(int)response.StatusCode} to {tenantEvent.Name} of instance {tenantEvent.InstanceId}: {(text.Length > 300 ? text[..300] : text)}",
                transient);
        }
    }

    private static T? Deserialize<T>(TenantEvent tenantEvent, string text)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(text, Json);
        }
        catch (JsonException ex)
        {
            // An HTTP 200 that is not the API's answer (an HTML page from a proxy, a truncated body) comes from trouble
            // on the way, as with KooGallery's open API: worth trying again later, like a 5xx.
            throw new TenantProvisioningException($"The tenant API's answer to {tenantEvent.Name} of instance {tenantEvent.InstanceId} is not the expected JSON.", isTransient: true, ex);
        }
    }

    private sealed record WebhookEnvelope(string Event, string IdempotencyKey, string InstanceId, bool TestFlag, DateTimeOffset OccurredAt, object Data);

    private sealed record AppInfoReply(string? FrontEndUrl, string? AdminUrl, string? UserName, string? Password, string? Memo);

    private sealed record SpecChangeReply(bool Allowed, string? Reason);
}
