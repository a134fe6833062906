using KooGallery.Protocol.Signing;
using Microsoft.AspNetCore.Http;

namespace KooGallery.Functions.Callbacks;

/// <summary>
/// One production-interface call as received: the raw body bytes (read once, before any model binding,
/// since the signature is over them) and the three signature query parameters.
/// </summary>
/// <param name="BodyProblem">Why the body could not be taken (too large, unreadable); null when it was read whole.</param>
/// <param name="KitActivity">For a joint-operation kit call (<c>x-sign</c> headers, §3.2): the sync its route names.</param>
public sealed record IncomingCallback(byte[] Body, string? BodyProblem, string? Signature, string? Timestamp, string? Nonce, string? KitActivity = null)
{
    /// <summary>KooGallery bodies are a few hundred bytes; anything over 64 KiB is refused unread.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    public static Task<IncomingCallback> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        string? Query(string name) => request.Query.TryGetValue(name, out var values) ? values.FirstOrDefault() : null;
        return ReadAsync(request, Query(V2RequestSignature.SignatureParameter), Query(V2RequestSignature.TimestampParameter), Query(V2RequestSignature.NonceParameter), null, cancellationToken);
    }

    /// <summary>A kit sync: the signature, timestamp and nonce come in the <c>x-sign</c>, <c>x-timestamp</c>, <c>x-nonce</c> headers.</summary>
    public static Task<IncomingCallback> ReadKitAsync(HttpRequest request, string sync, CancellationToken cancellationToken)
    {
        string? Header(string name) => request.Headers.TryGetValue(name, out var values) ? values.FirstOrDefault() : null;
        return ReadAsync(request, Header(KitSignature.SignHeader), Header(KitSignature.TimestampHeader), Header(KitSignature.NonceHeader), sync, cancellationToken);
    }

    private static async Task<IncomingCallback> ReadAsync(HttpRequest request, string? signature, string? timestamp, string? nonce, string? kitActivity, CancellationToken cancellationToken)
    {
        byte[]? body;
        try
        {
            body = await Http.BoundedBody.ReadAsync(request, MaxBodyBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or BadHttpRequestException)
        {
            // A malformed or interrupted transfer; the caller still gets a KooGallery answer, not a 500.
            return new IncomingCallback([], "the body could not be read completely.", signature, timestamp, nonce, kitActivity);
        }

        if (body is null)
        {
            return new IncomingCallback([], $"the body exceeds {MaxBodyBytes} bytes.", signature, timestamp, nonce, kitActivity);
        }

        return new IncomingCallback(body, null, signature, timestamp, nonce, kitActivity);
    }
}
