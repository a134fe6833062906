using System.Diagnostics;
using System.Text.RegularExpressions;
using KooGallery.Functions.Configuration;
using KooGallery.Functions.Operations;
using KooGallery.Protocol;
using KooGallery.Protocol.Signing;
using KooGallery.Protocol.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Callbacks;

/// <summary>
/// The path of one production-interface call: body limit → signature → timestamp window → parse →
/// nonce → dispatch on <c>activity</c> → exact answer bytes → <c>Body-Sign</c>. Every outcome is a
/// KooGallery answer; nothing escapes as an HTTP error.
/// </summary>
public sealed partial class CallbackPipeline(
    IOptionsMonitor<KooGalleryOptions> options,
    NonceStore nonces,
    ActivityDispatcher dispatcher,
    FailedOrderLedger failedOrders,
    FailedOrderResolver failedOrderOf,
    CallbackCounters counters,
    TimeProvider time,
    ILogger<CallbackPipeline> logger)
{
    public async Task<CallbackAnswer> HandleAsync(IncomingCallback call, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        var settings = options.CurrentValue;
        var trace = new CallTrace();
        KooGalleryResponse response;

        using (var budget = new CancellationTokenSource(settings.CallbackBudget, time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(budget.Token, cancellationToken))
        {
            try
            {
                response = await DecideAsync(call, settings, trace, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (budget.IsCancellationRequested)
            {
                logger.LogError(
                    "KooGallery {Activity} for order {OrderId} instance {InstanceId} ran past the {BudgetMs} ms budget; answering 000005 so KooGallery retries.",
                    trace.Activity, trace.OrderId, trace.InstanceId, settings.CallbackBudget.TotalMilliseconds);
                response = new KooGalleryResponse(ResultCode.InternalError, "internal timeout; please retry.");
            }
            catch (Exception ex)
            {
                logger.LogError(
                    ex,
                    "KooGallery {Activity} for order {OrderId} instance {InstanceId} failed on our side ({ErrorType}); answering 000005 so KooGallery retries.",
                    trace.Activity, trace.OrderId, trace.InstanceId, ex.GetType().Name);
                response = new KooGalleryResponse(ResultCode.InternalError, "internal error; please retry.");
            }
        }

        var body = response is ResentAnswer resent ? resent.Body : response.ToUtf8Bytes();
        var answer = new CallbackAnswer(body, BodySign.HeaderValue(SigningKeys(call, settings)[0], body), response.ResultCode);
        counters.Count(trace.Activity, response.ResultCode.Value);

        // Keeping the answer and counting a failed order are independent writes: issued together, one round trip.
        var keeping = KeepOrWithdrawAnswerAsync(trace, response, body, started, cancellationToken);
        var counting = CountsAsFailedOrder(trace, response, time.GetElapsedTime(started)) ? CountFailedOrderAsync(trace, response, time.GetElapsedTime(started), cancellationToken) : null;
        await keeping.ConfigureAwait(false);
        var elapsed = time.GetElapsedTime(started);
        await (counting ?? (CountsAsFailedOrder(trace, response, elapsed) ? CountFailedOrderAsync(trace, response, elapsed, cancellationToken) : Task.CompletedTask)).ConfigureAwait(false);

        // One structured line per call: Application Insights turns these properties into the custom
        // dimensions (activity, result code, order id, instance id) that alerts and the workbook query.
        var level = response.ResultCode == ResultCode.InternalError ? LogLevel.Error
            : response.ResultCode.IsSuccess || response.ResultCode == ResultCode.Processing ? LogLevel.Information
            : LogLevel.Warning;
        logger.Log(
            level,
            "KooGallery callback {Activity} answered {ResultCode} in {ElapsedMs:F1} ms (order {OrderId}, instance {InstanceId}, test {IsTest}, key #{KeyIndex}, signed over {SignedPayload}): {ResultMsg}",
            trace.Activity, response.ResultCode.Value, elapsed.TotalMilliseconds, trace.OrderId, trace.InstanceId, trace.IsTest,
            trace.KeyIndex, trace.SignedPayload, response.ResultMsg);
        return answer;
    }

    private async Task<KooGalleryResponse> DecideAsync(IncomingCallback call, KooGalleryOptions settings, CallTrace trace, CancellationToken cancellationToken)
    {
        if (call.BodyProblem is not null)
        {
            return Reject(ResultCode.InvalidParameter, call.BodyProblem);
        }

        // Huawei's demo: a missing or wrong signature is an authentication failure (000001); a missing,
        // malformed or stale timestamp or nonce is a parameter problem (000002).
        if (string.IsNullOrWhiteSpace(call.Signature))
        {
            return Reject(ResultCode.AuthenticationFailed, "the signature query parameter is missing.");
        }

        if (!RequestTimestamp.TryParse(call.Timestamp, out var signedAt))
        {
            return Reject(ResultCode.InvalidParameter, "the timestamp query parameter is missing or is not 13-digit milliseconds (or 10-digit seconds).");
        }

        if (call.Nonce is null || !NonceFormat().IsMatch(call.Nonce))
        {
            return Reject(ResultCode.InvalidParameter, "the nonce query parameter is missing or malformed (1–128 printable characters, none of / \\ # ?).");
        }

        var match = call.KitActivity is null
            ? V2RequestSignature.Verify(settings.Keys, call.Signature, call.Nonce, call.Timestamp!, call.Body)
            : KitSignature.Verify(SigningKeys(call, settings), call.Signature, call.Nonce, call.Timestamp!, call.Body);
        if (!match.IsValid)
        {
            return Reject(ResultCode.AuthenticationFailed, "the signature does not match the request.");
        }

        trace.KeyIndex = match.KeyIndex;
        trace.SignedPayload = match.Payload.ToString();
        if (!RequestTimestamp.IsWithin(signedAt, time.GetUtcNow(), settings.MaxClockSkew))
        {
            return Reject(ResultCode.InvalidParameter, $"the timestamp is more than {settings.MaxClockSkew.TotalSeconds:F0} s away from the server clock.");
        }

        var envelope = call.KitActivity is null ? CallbackEnvelope.Parse(call.Body) : CallbackEnvelope.ParseKit(call.KitActivity, call.Body);
        if (!envelope.IsValid)
        {
            return Reject(ResultCode.InvalidParameter, envelope.Error);
        }

        trace.Activity = envelope.Value.Activity;
        trace.IsTest = envelope.Value.IsTest;
        (trace.OrderId, trace.InstanceId) = envelope.Value.CorrelationIds();

        // Kit nonces live beside V2 ones under their own prefix: the two schemes never answer each other's replays.
        var nonceKey = call.KitActivity is null ? call.Nonce : KitNoncePrefix + call.Nonce;
        if (dispatcher.HandlerFor(envelope.Value.Activity) is { RecordsNonceWithWork: true } handler)
        {
            return await RecordNonceWithWorkAsync(call, envelope.Value, handler, nonceKey, trace, cancellationToken).ConfigureAwait(false);
        }

        var nonce = await nonces.RecordAsync(nonceKey, call.Body, envelope.Value.Activity, cancellationToken).ConfigureAwait(false);
        var claim = new NonceClaim(nonces, nonceKey, null, Task.FromResult(nonce));
        if (await claim.RefusalAsync(nonce, cancellationToken).ConfigureAwait(false) is { } refusal)
        {
            return Refused(refusal, call, trace);
        }

        NoteResend(nonce, call, trace);
        trace.Nonce = nonceKey;
        return await dispatcher.DispatchAsync(envelope.Value, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The instance callbacks: the nonce insert starts, the handler reads beside it and claims the nonce before its
    /// first write, putting its answer into that write's transaction (docs/lifecycle.md). A handler that writes
    /// nothing (a query, an unknown instance) is judged by the nonce afterwards: its answer is only thrown away.
    /// </summary>
    private async Task<KooGalleryResponse> RecordNonceWithWorkAsync(IncomingCallback call, CallbackEnvelope envelope, IActivityHandler handler, string nonceKey, CallTrace trace, CancellationToken cancellationToken)
    {
        var partition = handler.WorkPartition(envelope);
        var recording = nonces.RecordAsync(nonceKey, call.Body, envelope.Activity, cancellationToken, partition);
        var claim = new NonceClaim(nonces, nonceKey, partition, recording);
        trace.Claim = claim;
        KooGalleryResponse response;
        try
        {
            using (NonceClaim.Enter(claim))
            {
                response = await handler.HandleAsync(envelope, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (NonceAlreadyUsedException used)
        {
            return Refused(used.Answer, call, trace);
        }
        finally
        {
            // Whatever the handler did, the insert is not left running unobserved.
            await Observe(recording).ConfigureAwait(false);
        }

        var nonce = await recording.ConfigureAwait(false);
        if (!claim.Claimed && await claim.RefusalAsync(nonce, cancellationToken).ConfigureAwait(false) is { } refusal)
        {
            return Refused(refusal, call, trace);
        }

        NoteResend(nonce, call, trace);
        trace.Nonce = nonceKey;
        return response;
    }

    private static async Task Observe(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch
        {
            // Observed here; the caller awaits it again where its failure matters.
        }
    }

    private KooGalleryResponse Refused(KooGalleryResponse refusal, IncomingCallback call, CallTrace trace)
    {
        if (refusal is ResentAnswer)
        {
            logger.LogInformation(
                "KooGallery resent {Activity} with nonce {Nonce} and the same body (order {OrderId}, instance {InstanceId}); answering the first answer again.",
                trace.Activity, call.Nonce, trace.OrderId, trace.InstanceId);
        }

        return refusal;
    }

    private void NoteResend(NonceRecord nonce, IncomingCallback call, CallTrace trace)
    {
        if (nonce.Outcome == NonceOutcome.RepeatedWithSameBody)
        {
            logger.LogInformation(
                "KooGallery resent {Activity} with nonce {Nonce} and the same body (order {OrderId}, instance {InstanceId}) before its first answer was kept; processing it again idempotently.",
                trace.Activity, call.Nonce, trace.OrderId, trace.InstanceId);
        }
    }

    private const string KitNoncePrefix = "kit:";

    private static bool CountsAsFailedOrder(CallTrace trace, KooGalleryResponse response, TimeSpan elapsed) =>
        (trace.OrderId is { Length: > 0 } || trace.InstanceId is { Length: > 0 }) && FailedOrderLedger.IsFailure(response.ResultCode.Value, elapsed);

    /// <summary>
    /// After the answer is decided: keeps it with the nonce for an exact resend, unless the work's own transaction
    /// kept it already; withdraws an answer that transaction kept when the call ended up answering otherwise.
    /// </summary>
    private async Task KeepOrWithdrawAnswerAsync(CallTrace trace, KooGalleryResponse response, byte[] body, long started, CancellationToken cancellationToken)
    {
        if (trace.Claim is { KeptAnswer: { } kept, Partition: { } partition } claim)
        {
            if (kept.AsSpan().SequenceEqual(body))
            {
                return; // kept in the same transaction as the work: nothing more to write
            }

            // The work's transaction kept an answer this call did not give (its hand-over failed after it): withdrawn,
            // so a resend is processed again rather than told it succeeded.
            if (await WriteWithinAsync(TimeSpan.FromMilliseconds(500), token => nonces.ForgetAnswerRowAsync(partition, claim.Key, token), cancellationToken).ConfigureAwait(false) is { } failed)
            {
                logger.LogWarning("The answer kept with the work of KooGallery {Activity} (order {OrderId}, instance {InstanceId}) could not be withdrawn ({ErrorType}); a resend within the nonce's retention gets it.", trace.Activity, trace.OrderId, trace.InstanceId, failed.GetType().Name);
            }

            return;
        }

        if (trace.Nonce is not null && response is not ResentAnswer && response.ResultCode != ResultCode.InternalError)
        {
            // Within what is left of KooGallery's 5 seconds: a slow write gives up the resend copy, not the answer.
            var left = TimeSpan.FromSeconds(4.8) - time.GetElapsedTime(started);
            await KeepAnswerAsync(trace, body, response.ResultCode, left > TimeSpan.FromMilliseconds(50) ? left : TimeSpan.FromMilliseconds(50), cancellationToken).ConfigureAwait(false);
        }
    }

    private static KooGalleryResponse Reject(ResultCode code, string reason) => new(code, reason);

    /// <summary>Kit syncs are signed with the kit Key(s) (§3.2), falling back to the V2 Keys when none is set.</summary>
    private static List<string> SigningKeys(IncomingCallback call, KooGalleryOptions settings) =>
        call.KitActivity is not null && settings.KitKeys.Count > 0 ? settings.KitKeys : settings.Keys;

    /// <summary>
    /// Keeps the answer with the nonce for an exact resend. It costs one round trip after the work is done;
    /// when it fails the answer still goes out, and a resend is processed again (every handler is idempotent).
    /// </summary>
    private async Task KeepAnswerAsync(CallTrace trace, byte[] body, ResultCode code, TimeSpan limit, CancellationToken cancellationToken)
    {
        if (await WriteWithinAsync(limit, token => nonces.KeepAnswerAsync(trace.Nonce!, body, code.Value, token), cancellationToken).ConfigureAwait(false) is { } ex)
        {
            logger.LogWarning("The answer to KooGallery {Activity} (order {OrderId}, instance {InstanceId}) could not be kept with its nonce ({ErrorType}); a resend will be processed again.", trace.Activity, trace.OrderId, trace.InstanceId, ex.GetType().Name);
        }
    }

    /// <summary>
    /// Counts the order against KooGallery's monthly threshold — the order the body names, or, when it names none,
    /// the order of the instance or licence it names (one point read each). Only failures pay for this, and only
    /// briefly; when it cannot be written the log line below still says so.
    /// </summary>
    private async Task CountFailedOrderAsync(CallTrace trace, KooGalleryResponse response, TimeSpan elapsed, CancellationToken cancellationToken)
    {
        // Half a second at most: when storage is what failed, the 000005 must still reach KooGallery quickly.
        var left = TimeSpan.FromSeconds(4.9) - elapsed;
        var limit = left > TimeSpan.FromMilliseconds(500) ? TimeSpan.FromMilliseconds(500) : left > TimeSpan.FromMilliseconds(100) ? left : TimeSpan.FromMilliseconds(100);
        var at = time.GetUtcNow();
        var counted = new List<FailedCallback>();
        var failed = await WriteWithinAsync(
            limit,
            async token =>
            {
                foreach (var order in await failedOrderOf.OrdersAsync(trace.Activity, trace.OrderId, trace.InstanceId, trace.IsTest, token).ConfigureAwait(false))
                {
                    var failure = new FailedCallback(order.OrderId, order.InstanceId, trace.Activity, response.ResultCode.Value, response.ResultMsg, elapsed, order.IsTest, at);
                    if (await failedOrders.RecordAsync(failure, token).ConfigureAwait(false))
                    {
                        counted.Add(failure);
                    }
                }
            },
            cancellationToken).ConfigureAwait(false);
        if (failed is { } ex)
        {
            logger.LogWarning("The failed order {OrderId} (instance {InstanceId}) could not be counted ({ErrorType}).", trace.OrderId, trace.InstanceId, ex.GetType().Name);
        }

        foreach (var failure in counted)
        {
            logger.LogWarning(
                "KooGallery order {OrderId} (instance {InstanceId}) now counts as a failed order of {Month}: {Activity} answered {ResultCode} in {ElapsedMs:F0} ms.",
                failure.OrderId, failure.InstanceId, failedOrders.MonthOf(failure.At), failure.Activity, failure.ResultCode, elapsed.TotalMilliseconds);
        }
    }

    /// <summary>
    /// A storage write made after the answer is decided, which must not hold the answer back: it gets at most
    /// <paramref name="limit"/>, and its failure is returned for the caller to log, never thrown.
    /// </summary>
    private async Task<Exception?> WriteWithinAsync(TimeSpan limit, Func<CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(limit, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
        try
        {
            await write(linked.Token).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return ex;
        }
    }

    [GeneratedRegex(@"^[\x21-\x7E-[/\\#?]]{1,128}\z")]
    private static partial Regex NonceFormat();

    /// <summary>What is known about a call so far, for the one log line that describes it.</summary>
    private sealed class CallTrace
    {
        public string Activity { get; set; } = "(not parsed)";

        public string? OrderId { get; set; }

        public string? InstanceId { get; set; }

        public bool IsTest { get; set; }

        public int KeyIndex { get; set; } = -1;

        public string SignedPayload { get; set; } = "-";

        /// <summary>Set once the nonce is recorded as this call's: its answer is then kept with it.</summary>
        public string? Nonce { get; set; }

        /// <summary>For a callback that records its nonce with its work: where that stands.</summary>
        public NonceClaim? Claim { get; set; }
    }
}
