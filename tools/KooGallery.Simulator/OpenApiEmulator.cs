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
/// KooGallery's side of the open APIs (§5.9) on loopback: every request must carry a valid APIG
/// <c>SDK-HMAC-SHA256</c> signature (401 <c>APIGW.0301</c> otherwise), usage pushes also the body signature.
/// Query order answers the mock orders, orders it was told about and, unless strict, a synthesised monthly
/// order; usage pushes are recorded. <see cref="Faults"/> makes it misbehave.
/// </summary>
public sealed class OpenApiEmulator : LoopbackServer
{
    public const string QueryOrderPath = "/api/mkp-openapi-public/global/v1/order/query";
    public const string UsagePushPath = "/api/mkp-openapi-public/global/v1/isv/usage-data";
    public const string LicenseActivatePath = "/api/mkp-openapi-public/global/v1/license/activate";
    public const string LicenseQueryPath = "/api/mkp-openapi-public/global/v1/license/heartbeat";
    public const string LicenseBatchQueryPath = "/api/mkp-openapi-public/global/v2/license/heartbeat";
    public const string MarketEventPath = "/api/mkp-openapi-public/global/v1/market-event/{eventId}/file";

    private readonly ConcurrentDictionary<string, EmulatedLicense> licenses = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedMarketEvent> marketEvents = new();

    private readonly OpenApiEmulatorOptions options;
    private readonly ConcurrentDictionary<string, JsonObject> orders = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<RecordedUsagePush> pushes = new();
    private int requests;

    private OpenApiEmulator(OpenApiEmulatorOptions options) => this.options = options;

    public FaultPlan Faults { get; } = new();

    /// <summary>Requests received, counting the ones answered with a fault or refused.</summary>
    public int RequestCount => Volatile.Read(ref requests);

    public IReadOnlyList<RecordedUsagePush> UsagePushes => pushes.ToArray();

    /// <summary>Runs after a usage push is recorded and before it is answered: what happens while a push is in flight.</summary>
    public Func<Task>? WhileUsagePushInFlight { get; set; }

    /// <summary>
    /// What KooGallery bills: for each <c>metering_sn</c>, the first record it received under it (it ignores
    /// later ones as repeats, whatever their value).
    /// </summary>
    public IReadOnlyDictionary<string, JsonObject> KeptUsage()
    {
        var kept = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var record in UsagePushes.SelectMany(p => p.Records))
        {
            kept.TryAdd(record["metering_sn"]!.GetValue<string>(), record);
        }

        return kept;
    }

    /// <summary>Every <c>metering_sn</c> of a usage push this KooGallery refused with a business code.</summary>
    public IReadOnlyCollection<string> RefusedUsageSerials => refusedSerials.Keys.ToArray();

    private readonly ConcurrentDictionary<string, bool> refusedSerials = new(StringComparer.Ordinal);

    private void NoteRefused(string body)
    {
        try
        {
            foreach (var record in JsonNode.Parse(body)?["usage_records"]?.AsArray() ?? [])
            {
                if (record?["metering_sn"]?.GetValue<string>() is { } sn)
                {
                    refusedSerials[sn] = true;
                }
            }
        }
        catch (JsonException)
        {
            // Not a usage body: nothing to note.
        }
    }

    /// <summary>Instances whose usage KooGallery refuses: a push holding any of their records is answered 92020002 as a whole.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, bool> RefusedUsageInstances { get; } = new(StringComparer.Ordinal);

    /// <summary>Licence codes KooGallery knows: the mock codes (<see cref="MockLicenses"/>) and any added here.</summary>
    public EmulatedLicense AddLicense(string license, string status = "NORMAL", DateTimeOffset? expiresAt = null)
    {
        var added = new EmulatedLicense(license) { Status = status, ExpiresAt = expiresAt ?? options.Time.GetUtcNow().AddYears(1) };
        licenses[license] = added;
        return added;
    }

    public EmulatedLicense? License(string license) => licenses.TryGetValue(license, out var found) ? found : MockLicense(license);

    /// <summary>Uploads received by the market-event endpoint.</summary>
    public IReadOnlyList<RecordedMarketEvent> MarketEvents => marketEvents.ToArray();

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
        app.MapPost(LicenseActivatePath, context => Guarded(context, ActivateLicense));
        app.MapPost(LicenseQueryPath, context => Guarded(context, QueryLicense));
        app.MapPost(LicenseBatchQueryPath, context => Guarded(context, QueryLicenses));
        app.MapPost(MarketEventPath, context => Guarded(context, UploadMarketEvent));
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
            if (context.Request.Path == UsagePushPath)
            {
                NoteRefused(Encoding.UTF8.GetString(body));
            }

            await Answer(context, business.ResultCode, business.ResultMsg).ConfigureAwait(false);
            return;
        }

        context.Items[typeof(Fault)] = fault;
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
            NoteRefused(text);
            await Answer(context, "92020002", $"instance {refused} is not a pay-per-use instance of this merchant").ConfigureAwait(false);
            return;
        }

        pushes.Enqueue(new RecordedUsagePush(options.Time.GetUtcNow(), text, records.Select(r => r!.AsObject()).ToList()));
        if (WhileUsagePushInFlight is { } inFlight)
        {
            await inFlight().ConfigureAwait(false);
        }

        if (context.Items[typeof(Fault)] is Fault.RecordThenDrop)
        {
            context.Abort();
            return;
        }

        await Answer(context, "92020000", "success").ConfigureAwait(false);
    }

    /// <summary>
    /// The mock licence codes a seller can test with: <c>PLMOCK…</c> (usable for a year), <c>PLMOCKFROZEN…</c>,
    /// <c>PLMOCKEXPIRED…</c> (expired yesterday); any other code is unknown to this KooGallery.
    /// </summary>
    private EmulatedLicense? MockLicense(string license)
    {
        if (!license.StartsWith("PLMOCK", StringComparison.Ordinal))
        {
            return null;
        }

        var now = options.Time.GetUtcNow();
        var mock = license.StartsWith("PLMOCKFROZEN", StringComparison.Ordinal) ? new EmulatedLicense(license) { Status = "FROZEN", ExpiresAt = now.AddYears(1) }
            : license.StartsWith("PLMOCKEXPIRED", StringComparison.Ordinal) ? new EmulatedLicense(license) { Status = "EXPIRED", ExpiresAt = now.AddDays(-1) }
            : new EmulatedLicense(license) { Status = "NORMAL", ExpiresAt = now.AddYears(1) };
        return licenses.GetOrAdd(license, mock);
    }

    private async Task ActivateLicense(HttpContext context, byte[] body)
    {
        var license = JsonNode.Parse(body)?["license"]?.GetValue<string>();
        if (license is null || License(license) is not { } known)
        {
            await Answer(context, "92020002", $"license {license} does not exist").ConfigureAwait(false);
            return;
        }

        known.Activations++;
        await Answer(context, "92020000", "success", extra: new JsonObject { ["licenseInfo"] = known.ToJson() }).ConfigureAwait(false);
    }

    private async Task QueryLicense(HttpContext context, byte[] body)
    {
        var license = JsonNode.Parse(body)?["license"]?.GetValue<string>();
        if (license is null || License(license) is not { } known)
        {
            await Answer(context, "92020002", $"license {license} does not exist").ConfigureAwait(false);
            return;
        }

        known.Queries++;
        await Answer(context, "92020000", "success", extra: new JsonObject { ["licenseInfo"] = known.ToJson() }).ConfigureAwait(false);
    }

    private async Task QueryLicenses(HttpContext context, byte[] body)
    {
        var asked = JsonNode.Parse(body)?["licenses"] as JsonArray;
        var found = new JsonArray();
        foreach (var code in asked?.Select(n => n?.GetValue<string>()).OfType<string>() ?? [])
        {
            if (License(code) is { } known)
            {
                known.Queries++;
                found.Add(known.ToJson());
            }
        }

        await Answer(context, "92020000", "success", extra: new JsonObject { ["licenseInfos"] = found }).ConfigureAwait(false);
    }

    private async Task UploadMarketEvent(HttpContext context, byte[] body)
    {
        var form = await new FormReader(body, context.Request.ContentType).ReadAsync().ConfigureAwait(false);
        var type = form.Type;
        if (type is not ("CHARACTERS" or "FILE") || (type == "CHARACTERS" && string.IsNullOrEmpty(form.Content)) || (type == "FILE" && form.File is null))
        {
            await Answer(context, "92020002", "type must be CHARACTERS with content, or FILE with a file").ConfigureAwait(false);
            return;
        }

        marketEvents.Enqueue(new RecordedMarketEvent(context.Request.RouteValues["eventId"]?.ToString() ?? string.Empty, type, form.Content, form.File, form.FileName));
        await Answer(context, "92020000", "success").ConfigureAwait(false);
    }

    private static Task Answer(HttpContext context, string code, string message, JsonObject? orderInfo = null, JsonObject? extra = null)
    {
        var answer = new JsonObject { ["resultCode"] = code, ["resultMsg"] = message };
        if (orderInfo is not null)
        {
            answer["orderInfo"] = orderInfo;
        }

        foreach (var (name, value) in extra ?? [])
        {
            answer[name] = value?.DeepClone();
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
            "RecordThenDrop" => new Fault.RecordThenDrop(),
            "BusinessError" => new Fault.BusinessError(ResultCode ?? "92020002"),
            "Malformed" => Body is null ? new Fault.Malformed() : new Fault.Malformed(Body),
            _ => null,
        };
    }
}

/// <summary>A licence code as the emulated KooGallery knows it.</summary>
public sealed class EmulatedLicense(string license)
{
    public string License { get; } = license;

    /// <summary>NORMAL, FROZEN, RELEASED or EXPIRED.</summary>
    public string Status { get; set; } = "NORMAL";

    public DateTimeOffset ExpiresAt { get; set; }

    public int Activations { get; set; }

    public int Queries { get; set; }

    internal JsonObject ToJson() => new()
    {
        ["license"] = License,
        ["status"] = Status,
        ["expireTime"] = ExpiresAt.ToOffset(TimeSpan.FromHours(8)).ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture),
        ["renewUrl"] = $"https://marketplace.example.com/renew/{License}",
    };
}

/// <summary>A market-event upload the emulator received.</summary>
public sealed record RecordedMarketEvent(string EventId, string Type, string? Content, byte[]? File, string? FileName);

/// <summary>Reads the multipart form of a market-event upload from the raw (already signature-checked) body.</summary>
internal sealed class FormReader(byte[] body, string? contentType)
{
    public string? Type { get; private set; }

    public string? Content { get; private set; }

    public byte[]? File { get; private set; }

    public string? FileName { get; private set; }

    public async Task<FormReader> ReadAsync()
    {
        var boundary = contentType is null ? null : Microsoft.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType).Boundary.ToString().Trim('"');
        if (string.IsNullOrEmpty(boundary))
        {
            return this;
        }

        var reader = new Microsoft.AspNetCore.WebUtilities.MultipartReader(boundary, new MemoryStream(body));
        while (await reader.ReadNextSectionAsync().ConfigureAwait(false) is { } section)
        {
            var disposition = Microsoft.Net.Http.Headers.ContentDispositionHeaderValue.Parse(section.ContentDisposition);
            var name = disposition.Name.ToString().Trim('"');
            using var data = new MemoryStream();
            await section.Body.CopyToAsync(data).ConfigureAwait(false);
            switch (name)
            {
                case "type":
                    Type = Encoding.UTF8.GetString(data.ToArray());
                    break;
                case "content":
                    Content = Encoding.UTF8.GetString(data.ToArray());
                    break;
                case "file":
                    File = data.ToArray();
                    FileName = disposition.FileName.ToString().Trim('"');
                    break;
            }
        }

        return this;
    }
}
