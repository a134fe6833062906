using Azure.Data.Tables;
using KooGallery.Protocol;
using KooGallery.Protocol.Wire;

namespace KooGallery.Functions.Callbacks;

/// <summary>
/// The nonce of the callback being handled, for handlers that record it with their work instead of before it
/// (<see cref="IActivityHandler.RecordsNonceWithWork"/>). The nonce insert is then in flight while the handler
/// reads; the handler claims the nonce just before its first write, and puts its answer in the same transaction
/// as that write. A callback so costs two storage round trips one after the other (docs/lifecycle.md,
/// "Replay protection and exact resends").
/// </summary>
public sealed class NonceClaim
{
    private static readonly AsyncLocal<NonceClaim?> CurrentClaim = new();

    private readonly NonceStore store;
    private byte[]? pendingAnswer;

    internal NonceClaim(NonceStore store, string key, string? partition, Task<NonceRecord> recorded)
    {
        this.store = store;
        Key = key;
        Partition = partition;
        Recorded = recorded;
    }

    /// <summary>The nonce as stored (V2 nonces as sent; kit nonces with their prefix).</summary>
    public string Key { get; }

    /// <summary>The instance partition the call's work goes to, where its answer is kept; null when not known.</summary>
    public string? Partition { get; }

    /// <summary>The nonce insert, started before the handler ran.</summary>
    public Task<NonceRecord> Recorded { get; }

    /// <summary>True once the handler claimed the nonce as this call's (it may then write).</summary>
    public bool Claimed { get; private set; }

    /// <summary>The answer committed with the work, when it was; the pipeline then has nothing left to keep.</summary>
    public byte[]? KeptAnswer { get; private set; }

    internal static IDisposable Enter(NonceClaim claim)
    {
        CurrentClaim.Value = claim;
        return new Exit();
    }

    /// <summary>
    /// Waits for the nonce insert before the handler's first write. Returns when the call is this nonce's first (or a
    /// resend whose first answer was not kept, processed again idempotently); otherwise throws
    /// <see cref="NonceAlreadyUsedException"/> carrying the answer to give, and the handler writes nothing. Outside a
    /// callback that records its nonce with its work (an operator's action, a test), it returns at once.
    /// </summary>
    public static async Task ClaimAsync(CancellationToken cancellationToken)
    {
        if (CurrentClaim.Value is not { Claimed: false } claim)
        {
            return;
        }

        var record = await claim.Recorded.ConfigureAwait(false);
        if (await claim.RefusalAsync(record, cancellationToken).ConfigureAwait(false) is { } refusal)
        {
            throw new NonceAlreadyUsedException(refusal);
        }

        claim.Claimed = true;
    }

    /// <summary>
    /// What to answer instead of doing the work: 000001 for a nonce used with another body, the first answer for a
    /// resend whose answer was kept (on the nonce row, or beside the work); null when the call goes ahead.
    /// </summary>
    internal async Task<KooGalleryResponse?> RefusalAsync(NonceRecord record, CancellationToken cancellationToken)
    {
        switch (record.Outcome)
        {
            case NonceOutcome.First:
                return null;
            case NonceOutcome.RepeatedWithDifferentBody:
                return new KooGalleryResponse(ResultCode.AuthenticationFailed, "the nonce was already used with a different body.");
        }

        if (record.Answer is { } answer && ResultCode.TryParse(record.AnswerCode, out var code))
        {
            return new ResentAnswer(code, answer);
        }

        if (Partition is not null && await store.ReadAnswerRowAsync(Partition, Key, cancellationToken).ConfigureAwait(false) is { } kept && ResultCode.TryParse(kept.Code, out var keptCode))
        {
            return new ResentAnswer(keptCode, kept.Answer);
        }

        return null;
    }

    /// <summary>
    /// The row that keeps <paramref name="answer"/> in the transaction writing to <paramref name="partition"/>; null
    /// when no claimed callback is being handled there. The repository calls <see cref="AnswerCommitted"/> the moment
    /// the transaction is in — before anything else can fail — so an answer kept for a call that then fails is withdrawn.
    /// </summary>
    public static TableTransactionAction? AnswerRow(string partition, KooGalleryResponse answer)
    {
        if (CurrentClaim.Value is not { Claimed: true } claim || claim.Partition != partition)
        {
            return null;
        }

        var bytes = answer.ToUtf8Bytes();
        if (!NonceStore.CanKeep(bytes))
        {
            return null;
        }

        claim.pendingAnswer = bytes;
        return claim.store.AnswerRow(partition, claim.Key, bytes, answer.ResultCode.Value);
    }

    /// <summary>The transaction holding <paramref name="row"/> was committed: the answer is kept.</summary>
    public static void AnswerCommitted(TableTransactionAction? row)
    {
        if (row is not null && CurrentClaim.Value is { } claim)
        {
            claim.KeptAnswer = claim.pendingAnswer;
        }
    }

    private sealed class Exit : IDisposable
    {
        public void Dispose() => CurrentClaim.Value = null;
    }
}

/// <summary>The nonce is not this call's to use: the handler stops before writing and the pipeline gives <see cref="Answer"/>.</summary>
public sealed class NonceAlreadyUsedException(KooGalleryResponse answer) : Exception("The callback's nonce was used before.")
{
    public KooGalleryResponse Answer { get; } = answer;
}

/// <summary>The first answer's exact bytes, sent again for an exact resend.</summary>
public sealed class ResentAnswer(ResultCode code, byte[] body) : KooGalleryResponse(code, "(resent)")
{
    public byte[] Body { get; } = body;
}
