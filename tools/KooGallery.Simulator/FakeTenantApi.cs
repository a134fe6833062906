using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KooGallery.Protocol.Tenant;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace KooGallery.Simulator;

/// <summary>A webhook as the fake tenant API received and verified it.</summary>
public sealed record ReceivedTenantEvent(string Event, string IdempotencyKey, JsonObject Body);

/// <summary>
/// A merchant tenant API on loopback that implements the receiving side of the webhook contract: checks
/// <c>X-KooGallery-Signature</c> (401 otherwise), de-duplicates on <c>Idempotency-Key</c> (a repeat gets the
/// first answer), answers <c>provision</c> with login data and <c>check-spec-change</c> with a verdict.
/// </summary>
public sealed class FakeTenantApi : LoopbackServer
{
    private readonly string secret;
    private readonly bool quiet;
    private readonly ConcurrentDictionary<string, string> answers = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<ReceivedTenantEvent> received = new();
    private int requests;

    private FakeTenantApi(string secret, bool quiet)
    {
        this.secret = secret;
        this.quiet = quiet;
    }

    public FaultPlan Faults { get; } = new();

    public int RequestCount => Volatile.Read(ref requests);

    /// <summary>Distinct events (repeats of an idempotency key are not listed twice).</summary>
    public IReadOnlyList<ReceivedTenantEvent> Events => received.ToArray();

    /// <summary>What <c>check-spec-change</c> answers.</summary>
    public bool AllowSpecChanges { get; set; } = true;

    /// <summary>When set, <c>provision</c> answers this JSON instead of generated login data (to test bad answers).</summary>
    public string? ProvisionAnswer { get; set; }

    public static async Task<FakeTenantApi> StartAsync(string secret, string urls = "http://127.0.0.1:0", bool quiet = true, CancellationToken cancellationToken = default)
    {
        var api = new FakeTenantApi(secret, quiet);
        await api.StartAsync(urls, api.quiet, cancellationToken).ConfigureAwait(false);
        return api;
    }

    protected override void Map(WebApplication app) => app.MapPost("/{event}", Handle);

    private async Task Handle(HttpContext context, string @event)
    {
        Interlocked.Increment(ref requests);
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer).ConfigureAwait(false);
        var body = buffer.ToArray();

        var fault = Faults.Next();
        if (await AnsweredByFaultAsync(fault, context, """{"error":"emulated fault"}""").ConfigureAwait(false))
        {
            return;
        }

        if (fault is Fault.BusinessError)
        {
            context.Response.StatusCode = 422;
            await context.Response.WriteAsync("""{"error":"refused by the tenant system"}""").ConfigureAwait(false);
            return;
        }

        if (!TenantWebhookSignature.Verify(secret, context.Request.Headers[TenantWebhookSignature.HeaderName], body, DateTimeOffset.UtcNow, TenantWebhookSignature.DefaultTolerance))
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsync("""{"error":"bad signature"}""").ConfigureAwait(false);
            return;
        }

        var key = context.Request.Headers[TenantWebhookSignature.IdempotencyHeader].ToString();
        if (string.IsNullOrEmpty(key) || JsonNode.Parse(Encoding.UTF8.GetString(body)) is not JsonObject json)
        {
            context.Response.StatusCode = 400;
            return;
        }

        var answer = answers.GetOrAdd(key, _ =>
        {
            received.Enqueue(new ReceivedTenantEvent(@event, key, json));
            var instanceId = json["instanceId"]?.GetValue<string>() ?? "unknown";
            return @event switch
            {
                "provision" when ProvisionAnswer is not null => ProvisionAnswer,
                "provision" => JsonSerializer.Serialize(new
                {
                    frontEndUrl = $"https://{instanceId}.fake-tenant.example.com/",
                    adminUrl = $"https://{instanceId}.fake-tenant.example.com/admin",
                    userName = "owner",
                    password = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12)),
                    memo = "created by the fake tenant API",
                }),
                "check-spec-change" => JsonSerializer.Serialize(new { allowed = AllowSpecChanges, reason = AllowSpecChanges ? null : "usage exceeds the target quota" }),
                _ => """{"ok":true}""",
            };
        });

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(answer).ConfigureAwait(false);
    }
}
