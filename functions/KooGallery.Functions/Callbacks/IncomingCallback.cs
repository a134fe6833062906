using KooGallery.Protocol.Signing;
using Microsoft.AspNetCore.Http;

namespace KooGallery.Functions.Callbacks;

/// <summary>
/// One production-interface call as received: the raw body bytes (read once, before any model binding,
/// since the signature is over them) and the three signature query parameters.
/// </summary>
/// <param name="BodyProblem">Why the body could not be taken (too large, unreadable); null when it was read whole.</param>
public sealed record IncomingCallback(byte[] Body, string? BodyProblem, string? Signature, string? Timestamp, string? Nonce)
{
    /// <summary>KooGallery bodies are a few hundred bytes; anything over 64 KiB is refused unread.</summary>
    public const int MaxBodyBytes = 64 * 1024;

    public static async Task<IncomingCallback> ReadAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        string? Query(string name) => request.Query.TryGetValue(name, out var values) ? values.FirstOrDefault() : null;

        var signature = Query(V2RequestSignature.SignatureParameter);
        var timestamp = Query(V2RequestSignature.TimestampParameter);
        var nonce = Query(V2RequestSignature.NonceParameter);

        byte[]? body;
        try
        {
            body = await Http.BoundedBody.ReadAsync(request, MaxBodyBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or BadHttpRequestException)
        {
            // A malformed or interrupted transfer; the caller still gets a KooGallery answer, not a 500.
            return new IncomingCallback([], "the body could not be read completely.", signature, timestamp, nonce);
        }

        if (body is null)
        {
            return new IncomingCallback([], $"the body exceeds {MaxBodyBytes} bytes.", signature, timestamp, nonce);
        }

        return new IncomingCallback(body, null, signature, timestamp, nonce);
    }
}
