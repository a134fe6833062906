using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KooGallery.Protocol.Signing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace KooGallery.Simulator;

public sealed class OpenApiEmulatorOptions
{
    /// <summary>Loopback only: <c>http://127.0.0.1:0</c> takes a free port.</summary>
    public string Urls { get; set; } = "http://127.0.0.1:0";

    public string AccessKey { get; set; } = "emulator-access-key";

    public string SecretKey { get; set; } = "emulator-secret-key-change-me";

    /// <summary>The merchant Key(s) that sign usage pushes.</summary>
    public IReadOnlyList<string> UsagePushKeys { get; set; } = ["local-development-key-change-me"];

    /// <summary>Strict: unknown order ids answer an error instead of a synthesised monthly order.</summary>
    public bool Strict { get; set; }

    /// <summary>How far <c>X-Sdk-Date</c> may be from the emulator's clock.</summary>
    public TimeSpan MaxClockSkew { get; set; } = TimeSpan.FromMinutes(15);

    public TimeProvider Time { get; set; } = TimeProvider.System;

    public bool Quiet { get; set; } = true;
}

/// <summary>A usage push as received and verified.</summary>
public sealed record RecordedUsagePush(DateTimeOffset ReceivedAt, string Body, IReadOnlyList<JsonObject> Records);

/// <summary>
/// KooGallery's side of the open APIs (spec §5.9) on loopback: every request must carry a valid APIG
/// <c>SDK-HMAC-SHA256</c> signature (401 <c>APIGW.0301</c> otherwise), usage pushes also the body signature.
/// Query order answers the mock orders, orders it was told about and, unless strict, a synthesised monthly
/// order; usage pushes are recorded. <see cref="Faults"/> makes it misbehave.
/// </summary>
public sealed class OpenApiEmulator : LoopbackServer
{
    public const string QueryOrderPath = "/api/mkp-openapi-public/global/v1/order/query";
    public const string UsagePushPath = "/api/mkp-openapi-public/global/v1/isv/usage-data";

    private readonly OpenApiEmulatorOptions options;
    private readonly ConcurrentDictionary<string, JsonObject> orders = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedUsagePush> pushes = new();
    private int requests;

    private OpenApiEmulator(OpenApiEmulatorOptions options) => this.options = options;

    public FaultPlan Faults { get; } = new();

    /// <summary>Requests received, counting the ones answered with a fault or refused.</summary>
    public int RequestCount => Volatile.Read(ref requests);

    public IReadOnlyList<RecordedUsagePush> UsagePushes => pushes.ToArray();

    /// <summary>Instances whose usage KooGallery refuses: a push holding any of their records is answered 92020002 as a whole.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, bool> RefusedUsageInstances { get; } = new(StringComparer.Ordinal);

    public static async Task<OpenApiEmulator> StartAsync(OpenApiEmulatorOptions? options = null, CancellationToken cancellationToken = default)
    {
        var emulator = new OpenApiEmulator(options ?? new OpenApiEmulatorOptions());
        await emulator.StartAsync(emulator.options.Urls, emulator.options.Quiet, cancellationToken).ConfigureAwait(false);
        return emulator;
    }

    /// <summary>Makes query order answer this order (an <c>orderInfo</c> object with at least <c>orderId</c>).</summary>
    public void AddOrder(JsonObject orderInfo) =>
        orders[orderInfo["orderId"]?.GetValue<string>() ?? throw new ArgumentException("orderInfo needs an orderId.", nameof(orderInfo))] = orderInfo;

    protected override void Map(WebApplication app)
    {
        app.MapGet(QueryOrderPath, context => Guarded(context, QueryOrder));
        app.MapPost(UsagePushPath, context => Guarded(context, PushUsage));
        app.MapPost("/_emulator/orders", async context =>
        {
            var order = await JsonNode.ParseAsync(context.Request.Body).ConfigureAwait(false) as JsonObject;
            if (order?["orderId"] is null)
            {
                context.Response.StatusCode = 400;
                return;
            }

            AddOrder(order);
            context.Response.StatusCode = 204;
        });
        app.MapPost("/_emulator/faults", async context =>
        {
            var spec = await JsonSerializer.DeserializeAsync<FaultSpec>(context.Request.Body, Web).ConfigureAwait(false);
            if (spec?.ToFault() is not { } fault)
            {
                context.Response.StatusCode = 400;
                return;
            }

            Faults.Enqueue(fault, Math.Max(1, spec.Times));
            context.Response.StatusCode = 204;
        });
        app.MapGet("/_emulator/usage", context => context.Response.WriteAsJsonAsync(UsagePushes.Select(p => new { p.ReceivedAt, records = p.Records })));
    }

    private async Task Guarded(HttpContext context, Func<HttpContext, byte[], Task> handle)
    {
        Interlocked.Increment(ref requests);
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer).ConfigureAwait(false);
        var body = buffer.ToArray();

        var fault = Faults.Next();
        if (await AnsweredByFaultAsync(fault, context, """{"error_code":"APIGW.0101","error_msg":"emulated fault"}""").ConfigureAwait(false))
        {
            return;
        }

        if (fault is Fault.BusinessError business)
        {
            await Answer(context, business.ResultCode, business.ResultMsg).ConfigureAwait(false);
            return;
        }

        var uri = new Uri($"{context.Request.Scheme}://{context.Request.Host}{context.Request.Path}{context.Request.QueryString}");
        var headers = context.Request.Headers.Select(h => new KeyValuePair<string, string>(h.Key, h.Value.ToString()));
        var verification = ApigSigner.Verify(
            context.Request.Method, uri, headers, body,
            ak => ak == options.AccessKey ? options.SecretKey : null,
            options.Time.GetUtcNow(), options.MaxClockSkew);
        if (!verification.IsValid)
        {
            context.Response.StatusCode = 401;
            await context.Response.WriteAsJsonAsync(new { error_code = verification.ErrorCode, error_msg = verification.ErrorMessage }).ConfigureAwait(false);
            return;
        }

        await handle(context, body).ConfigureAwait(false);
    }

    private Task QueryOrder(HttpContext context, byte[] body)
    {
        var orderId = context.Request.Query["orderId"].ToString();
        var orderLineId = context.Request.Query.TryGetValue("orderLineId", out var line) ? line.ToString() : null;
        if (string.IsNullOrEmpty(orderId) || orderId.Length > 64)
        {
            return Answer(context, "92020002", "orderId is missing or too long");
        }

        var now = options.Time.GetUtcNow();
        var order = orders.TryGetValue(orderId, out var known) ? known.DeepClone().AsObject()
            : MockOrders.Mock(orderId, now)
            ?? (options.Strict ? null : MockOrders.Synthesised(orderId, orderLineId, now));
        if (order is null)
        {
            return Answer(context, "92020002", $"order {orderId} does not exist");
        }

        if (orderLineId is not null && order["orderLine"] is JsonArray lines)
        {
            var matching = lines.Where(l => l?["orderLineId"]?.GetValue<string>() == orderLineId).Select(l => l!.DeepClone()).ToArray();
            if (matching.Length == 0)
            {
                return Answer(context, "92020002", $"order {orderId} has no line {orderLineId}");
            }

            order["orderLine"] = new JsonArray(matching);
        }

        return Answer(context, "92020000", "success", order);
    }

    private async Task PushUsage(HttpContext context, byte[] body)
    {
        var text = Encoding.UTF8.GetString(body);
        var signature = context.Request.Headers["signature"].ToString();
        var ts = context.Request.Headers["ts"].ToString();
        var nonce = context.Request.Headers["nonce"].ToString();
        if (!UsagePushSignature.Verify(options.UsagePushKeys, signature, ts, nonce, text))
        {
            await Answer(context, "92020002", "the usage body signature does not verify").ConfigureAwait(false);
            return;
        }

        if (JsonNode.Parse(text)?["usage_records"] is not JsonArray records || records.Count is 0 or > 1000)
        {
            await Answer(context, "92020002", "usage_records must hold 1 to 1000 records").ConfigureAwait(false);
            return;
        }

        var refused = records.Select(r => r?["instance_id"]?.GetValue<string>()).FirstOrDefault(i => i is not null && RefusedUsageInstances.ContainsKey(i));
        if (refused is not null)
        {
            await Answer(context, "92020002", $"instance {refused} is not a pay-per-use instance of this merchant").ConfigureAwait(false);
            return;
        }

        pushes.Enqueue(new RecordedUsagePush(options.Time.GetUtcNow(), text, records.Select(r => r!.AsObject()).ToList()));
        await Answer(context, "92020000", "success").ConfigureAwait(false);
    }

    private static Task Answer(HttpContext context, string code, string message, JsonObject? orderInfo = null)
    {
        var answer = new JsonObject { ["resultCode"] = code, ["resultMsg"] = message };
        if (orderInfo is not null)
        {
            answer["orderInfo"] = orderInfo;
        }

        context.Response.ContentType = "application/json;charset=UTF-8";
        return context.Response.WriteAsync(answer.ToJsonString());
    }

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    /// <summary>The standalone emulator's fault request: <c>{"kind":"ServerError","times":2,"status":503}</c>.</summary>
    private sealed record FaultSpec(string Kind, int Times = 1, int Status = 500, int RetryAfterSeconds = 1, int DelayMs = 1000, string? ResultCode = null, string? Body = null)
    {
        public Fault? ToFault() => Kind switch
        {
            "ServerError" => new Fault.ServerError(Status),
            "TooManyRequests" => new Fault.TooManyRequests(RetryAfterSeconds),
            "Slow" => new Fault.Slow(TimeSpan.FromMilliseconds(DelayMs)),
            "DropConnection" => new Fault.DropConnection(),
            "BusinessError" => new Fault.BusinessError(ResultCode ?? "92020002"),
            "Malformed" => Body is null ? new Fault.Malformed() : new Fault.Malformed(Body),
            _ => null,
        };
    }
}
