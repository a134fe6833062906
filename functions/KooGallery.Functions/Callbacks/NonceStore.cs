using System.Security.Cryptography;
using Azure;
using Azure.Data.Tables;
using KooGallery.Functions.Configuration;
using Microsoft.Extensions.Options;

using KooGallery.Functions.Security;

namespace KooGallery.Functions.Callbacks;

/// <summary>What the nonce table says about a verified request.</summary>
public enum NonceOutcome
{
    /// <summary>First time this nonce is seen (or its earlier use has expired).</summary>
    First,

    /// <summary>Seen before with the same body: a transport-level resend, processed again idempotently.</summary>
    RepeatedWithSameBody,

    /// <summary>Seen before with another body: a replay attempt, answered <c>000001</c>.</summary>
    RepeatedWithDifferentBody,
}

/// <summary>What the nonce table says, with the answer given to the first call when one was kept.</summary>
public sealed record NonceRecord(NonceOutcome Outcome, byte[]? Answer, string? AnswerCode);

/// <summary>
/// Replay protection (§3.1): one row per nonce, inserted only if absent, holding the body's SHA-256
/// and the instant after which the nonce may be forgotten. The partition key is the nonce itself, so the
/// insert is a single round trip and concurrent requests with one nonce race on one row. The answer to the
/// call is kept on the row afterwards, so an exact resend gets the same bytes back (§7.3 case 10b) — encrypted
/// with the credential key and bound to its nonce, because an answer can carry a tenant's initial password
/// (<c>queryInstance</c>), which must not sit in clear text in a table.
/// </summary>
public sealed class NonceStore(TableServiceClient tables, IOptions<StorageOptions> names, IOptionsMonitor<KooGalleryOptions> options, CredentialProtector protector, TimeProvider time)
{
    private const string RowKey = "nonce";

    /// <summary>Answers larger than this are not kept (a table property holds 64 KiB); their resends are processed again.</summary>
    private const int MaxKeptAnswerBytes = 60 * 1024;

    private TableClient Table => tables.GetTableClient(names.Value.NonceTable);

    /// <param name="answerPartition">The instance-table partition where the call's work, and with it its answer, will be
    /// written (<see cref="AnswerRow"/>); null when the answer is kept on this row afterwards.</param>
    public async Task<NonceRecord> RecordAsync(string nonce, ReadOnlyMemory<byte> body, string activity, CancellationToken cancellationToken, string? answerPartition = null)
    {
        var now = time.GetUtcNow();
        var entity = new NonceEntity
        {
            PartitionKey = nonce,
            RowKey = RowKey,
            BodySha256 = Convert.ToHexStringLower(SHA256.HashData(body.Span)),
            Activity = activity,
            ExpiresAt = now + options.CurrentValue.NonceRetention,
            AnswerPartition = answerPartition,
        };

        // Two attempts are enough: the only loop is an expired row replaced under a concurrent writer.
        for (var attempt = 0; attempt < 2; attempt++)
        {
            try
            {
                await Table.AddEntityAsync(entity, cancellationToken).ConfigureAwait(false);
                return new NonceRecord(NonceOutcome.First, null, null);
            }
            catch (RequestFailedException ex) when (ex.Status == 409)
            {
                // Conflict also follows when the SDK retried an insert that had in fact succeeded; the
                // stored hash then equals ours and the request is treated as a resend, which is right.
            }

            var existing = await Table.GetEntityIfExistsAsync<NonceEntity>(nonce, RowKey, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!existing.HasValue || existing.Value is null)
            {
                continue; // purged between our insert and our read: insert again
            }

            var stored = existing.Value;
            if (stored.ExpiresAt > now)
            {
                return stored.BodySha256 == entity.BodySha256
                    ? new NonceRecord(NonceOutcome.RepeatedWithSameBody, OpenAnswer(stored, nonce), stored.AnswerCode)
                    : new NonceRecord(NonceOutcome.RepeatedWithDifferentBody, null, null);
            }

            try
            {
                await Table.UpdateEntityAsync(entity, stored.ETag, TableUpdateMode.Replace, cancellationToken).ConfigureAwait(false);
                return new NonceRecord(NonceOutcome.First, null, null);
            }
            catch (RequestFailedException ex) when (ex.Status is 412 or 404)
            {
                // Someone else took or purged the expired row first; decide again from what is stored now.
            }
        }

        throw new InvalidOperationException($"Nonce {nonce} could not be recorded: the row kept changing under concurrent writers.");
    }

    /// <summary>Keeps the answer given to the call with this nonce, for an exact resend; false when it was not kept.</summary>
    public async Task<bool> KeepAnswerAsync(string nonce, byte[] answer, string resultCode, CancellationToken cancellationToken)
    {
        if (!CanKeep(answer))
        {
            return false;
        }

        await Table.UpdateEntityAsync(SealedAnswer(nonce, RowKey, nonce, answer, resultCode), ETag.All, TableUpdateMode.Merge, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// The row that keeps the answer to the call with <paramref name="nonce"/> in the same transaction as the work it
    /// answers, in the instance's own partition: the answer is then kept exactly when the work is, at no extra round
    /// trip. Upserted, so a resend processed again beside its first call never conflicts on it.
    /// </summary>
    public TableTransactionAction AnswerRow(string partition, string nonce, byte[] answer, string resultCode)
    {
        var row = SealedAnswer(partition, AnswerRowKey(nonce), nonce, answer, resultCode);
        row[nameof(NonceEntity.ExpiresAt)] = time.GetUtcNow() + options.CurrentValue.NonceRetention;
        return new(TableTransactionActionType.UpsertReplace, row);
    }

    /// <summary>An answer as kept at rest, on the nonce row or beside the work: sealed, bound to its nonce.</summary>
    private TableEntity SealedAnswer(string partition, string rowKey, string nonce, byte[] answer, string resultCode) =>
        new(partition, rowKey)
        {
            [nameof(NonceEntity.SealedAnswer)] = protector.ProtectBytes(answer, AnswerBinding(nonce)),
            [nameof(NonceEntity.AnswerCode)] = resultCode,
        };

    /// <summary>Whether an answer this size can be kept at all (a table property holds 64 KiB).</summary>
    public static bool CanKeep(byte[] answer) => answer.Length <= MaxKeptAnswerBytes;

    /// <summary>The answer kept beside the work (<see cref="AnswerRow"/>), in clear; null when there is none.</summary>
    public async Task<(byte[] Answer, string Code)?> ReadAnswerRowAsync(string partition, string nonce, CancellationToken cancellationToken)
    {
        var found = await Instances.GetEntityIfExistsAsync<NonceEntity>(partition, AnswerRowKey(nonce), cancellationToken: cancellationToken).ConfigureAwait(false);
        return found.HasValue && found.Value is { AnswerCode: { } code } row && OpenAnswer(row, nonce) is { } answer ? (answer, code) : null;
    }

    /// <summary>
    /// Removes an answer kept beside the work when the call's answer turned out otherwise (its hand-over failed after
    /// the transaction, so KooGallery was told to retry): a resend is then processed again instead of told "done".
    /// </summary>
    public async Task ForgetAnswerRowAsync(string partition, string nonce, CancellationToken cancellationToken)
    {
        try
        {
            await Instances.DeleteEntityAsync(partition, AnswerRowKey(nonce), ETag.All, cancellationToken).ConfigureAwait(false);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
        }
    }

    /// <summary>Answer rows sort after the instance's change and event rows, and no reader of those ranges sees them.</summary>
    public static string AnswerRowKey(string nonce) => AnswerPrefix + nonce;

    public const string AnswerPrefix = "answer|";

    private TableClient Instances => tables.GetTableClient(names.Value.InstanceTable);

    /// <summary>The kept answer in clear, or null when there is none or no configured credential key opens it (the resend is then processed again).</summary>
    private byte[]? OpenAnswer(NonceEntity stored, string nonce)
    {
        if (stored.SealedAnswer is not { } sealedAnswer)
        {
            return null;
        }

        try
        {
            return protector.UnprotectBytes(sealedAnswer, AnswerBinding(nonce));
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }

    private static string AnswerBinding(string nonce) => "nonce-answer\n" + nonce;

    /// <summary>Deletes nonce rows past their retention; returns how many went.</summary>
    public async Task<int> PurgeExpiredAsync(CancellationToken cancellationToken)
    {
        var cutoff = time.GetUtcNow();
        var deleted = 0;
        var expired = Table.QueryAsync<NonceEntity>(
            TableClient.CreateQueryFilter<NonceEntity>(e => e.ExpiresAt < cutoff),
            select: [nameof(NonceEntity.PartitionKey), nameof(NonceEntity.RowKey), nameof(NonceEntity.ExpiresAt), nameof(NonceEntity.AnswerPartition)],
            cancellationToken: cancellationToken);
        await foreach (var row in expired.ConfigureAwait(false))
        {
            try
            {
                // The answer kept beside the work goes first: a purge that stops here finds the nonce row next time.
                if (row.AnswerPartition is { Length: > 0 } partition)
                {
                    await ForgetAnswerRowAsync(partition, row.PartitionKey, cancellationToken).ConfigureAwait(false);
                }

                await Table.DeleteEntityAsync(row.PartitionKey, row.RowKey, row.ETag, cancellationToken).ConfigureAwait(false);
                deleted++;
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 412)
            {
                // Deleted by an overlapping purge, or reused (replaced) since we read it: leave it.
            }
        }

        return deleted;
    }
}

public sealed class NonceEntity : ITableEntity
{
    public string PartitionKey { get; set; } = string.Empty;

    public string RowKey { get; set; } = string.Empty;

    public DateTimeOffset? Timestamp { get; set; }

    public ETag ETag { get; set; }

    public string BodySha256 { get; set; } = string.Empty;

    public string Activity { get; set; } = string.Empty;

    public DateTimeOffset ExpiresAt { get; set; }

    /// <summary>The answer given to the first call (not kept for 000005, which asks for a retry), encrypted (<see cref="CredentialProtector.ProtectBytes"/>).</summary>
    public byte[]? SealedAnswer { get; set; }

    /// <summary>Where the answer is kept when it was written with the work (<see cref="NonceStore.AnswerRow"/>), for the purge.</summary>
    public string? AnswerPartition { get; set; }

    public string? AnswerCode { get; set; }
}
