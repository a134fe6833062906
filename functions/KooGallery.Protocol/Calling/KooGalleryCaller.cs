using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KooGallery.Protocol;
using KooGallery.Protocol.Signing;

namespace KooGallery.Protocol.Calling;

/// <summary>One call as KooGallery made it and what came back.</summary>
public sealed record CallResult(
    string Activity,
    string RequestUrl,
    string RequestBody,
    int Status,
    string ResponseBody,
    string? BodySignHeader,
    bool BodySignValid,
    TimeSpan Elapsed,
    JsonObject? Json,
    string? Error)
{
    public string? ResultCode => Json?["resultCode"]?.GetValue<string>();

    /// <summary>
    /// The endpoint answered as a working one does: HTTP 200, JSON, a <c>Body-Sign</c> that verifies, and not an
    /// authentication failure (000001: the Key or the signing is wrong). Other codes are business answers.
    /// </summary>
    public bool Verified => Error is null && Status == 200 && BodySignValid && ResultCode != "000001";

    public string? ResultMsg => Json?["resultMsg"]?.GetValue<string>();

    public string? InstanceId => Json?["instanceId"]?.GetValue<string>();
}

/// <summary>
/// Calls a merchant's production interface exactly as KooGallery does: V2 POST with compact JSON (top-level
/// keys sorted) and <c>signature</c>/<c>timestamp</c>/<c>nonce</c> in the query string; optionally a kit sync
/// (x-sign headers) or a retired V1 GET with <c>authToken</c>. Every answer's <c>Body-Sign</c> is checked.
/// </summary>
/// <param name="kitKey">The Key of the joint-operation kit interfaces when it differs from <paramref name="key"/>.</param>
/// <param name="answerKey">The Key answers are expected to be signed with when it is not <paramref name="key"/> (the app signs with its first Key).</param>
public sealed class KooGalleryCaller(HttpClient http, Uri url, string key, TimeProvider? time = null, string? kitKey = null, string? answerKey = null)
{
    private readonly TimeProvider clock = time ?? TimeProvider.System;

    private static readonly JsonSerializerOptions Compact = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public Uri Url { get; } = url;

    public string Key { get; } = key;

    /// <summary>Signs kit syncs and verifies their answers' <c>Body-Sign</c>.</summary>
    public string KitKey { get; } = kitKey ?? key;

    public DateTimeOffset Now => clock.GetUtcNow();

    /// <summary>A V2 body as KooGallery sends it: compact, top-level keys in ordinal order, <c>activity</c> included.</summary>
    public static string Body(string activity, IEnumerable<KeyValuePair<string, JsonNode?>> fields)
    {
        var sorted = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal) { ["activity"] = activity };
        foreach (var (name, value) in fields)
        {
            sorted[name] = value?.DeepClone();
        }

        var json = new JsonObject();
        foreach (var (name, value) in sorted)
        {
            json[name] = value;
        }

        return json.ToJsonString(Compact);
    }

    public Task<CallResult> CallAsync(string activity, object fields, CancellationToken cancellationToken = default) =>
        SendV2Async(activity, Body(activity, JsonSerializer.SerializeToNode(fields)!.AsObject()), cancellationToken: cancellationToken);

    /// <summary>Sends a V2 body; the optional overrides build deliberately broken calls (conformance case 10).</summary>
    public async Task<CallResult> SendV2Async(
        string activity,
        string body,
        string? signWithKey = null,
        DateTimeOffset? signedAt = null,
        string? nonce = null,
        string? sendBodyInstead = null,
        bool omitNonce = false,
        CancellationToken cancellationToken = default)
    {
        var signed = V2RequestSignature.Sign(signWithKey ?? Key, body, signedAt ?? Now, nonce);
        var query = omitNonce
            ? $"?signature={signed.Signature}&timestamp={signed.Timestamp}"
            : signed.ToQueryString();
        var sent = sendBodyInstead ?? body;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Url + query)) { Content = new StringContent(sent, Encoding.UTF8) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json;charset=utf8");
        request.Headers.Accept.ParseAdd("application/json");
        return await SendAsync(activity, request, sent, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A joint-operation kit sync (§3.2): POST {url}/produceAPI/v2/{sync} with x-sign headers.</summary>
    public async Task<CallResult> SendKitAsync(string sync, string body, string? kitKey = null, CancellationToken cancellationToken = default)
    {
        var signed = KitSignature.Sign(kitKey ?? KitKey, Encoding.UTF8.GetBytes(body), Now);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(Url.ToString().TrimEnd('/') + "/produceAPI/v2/" + sync)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation(KitSignature.SignHeader, signed.Signature);
        request.Headers.TryAddWithoutValidation(KitSignature.TimestampHeader, signed.Timestamp);
        request.Headers.TryAddWithoutValidation(KitSignature.NonceHeader, signed.Nonce);
        return await SendAsync(sync, request, body, cancellationToken, KitKey).ConfigureAwait(false);
    }

    /// <summary>A retired V1 call (§3.3): GET with the fields, <c>timeStamp</c> and <c>authToken</c> in the query.</summary>
    public async Task<CallResult> SendV1Async(string activity, IReadOnlyDictionary<string, string> fields, CancellationToken cancellationToken = default)
    {
        var parameters = fields.Append(new("activity", activity)).Append(new(V1AuthToken.TimeStampParameter, V1AuthToken.FormatTimeStamp(Now))).ToList();
        var token = V1AuthToken.Compute(Key, parameters);
        var query = string.Join('&', parameters.Append(new(V1AuthToken.AuthTokenParameter, token)).Select(p => $"{p.Key}={Uri.EscapeDataString(p.Value)}"));
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(Url + "?" + query));
        return await SendAsync(activity, request, string.Empty, cancellationToken).ConfigureAwait(false);
    }

    private async Task<CallResult> SendAsync(string activity, HttpRequestMessage request, string requestBody, CancellationToken cancellationToken, string? answeredWith = null)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            watch.Stop();
            // The header name is case-sensitive for KooGallery's tool: only an exact "Body-Sign" counts.
            var bodySign = response.Headers.NonValidated.Where(h => h.Key == BodySign.HeaderName).Select(h => h.Value.ToString()).FirstOrDefault();
            JsonObject? json = null;
            string? error = null;
            try
            {
                json = JsonNode.Parse(bytes) as JsonObject;
                error = json is null ? "the answer is not a JSON object" : null;
            }
            catch (JsonException ex)
            {
                error = "the answer is not JSON: " + ex.Message;
            }

            return new CallResult(activity, request.RequestUri!.ToString(), requestBody, (int)response.StatusCode, Encoding.UTF8.GetString(bytes),
                bodySign, BodySign.Verify(answeredWith ?? answerKey ?? Key, bodySign, bytes), watch.Elapsed, json, error);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new CallResult(activity, request.RequestUri!.ToString(), requestBody, 0, string.Empty, null, false, watch.Elapsed, null, $"no answer: {ex.GetType().Name}: {ex.Message}");
        }
    }
}
