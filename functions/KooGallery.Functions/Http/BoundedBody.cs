using Microsoft.AspNetCore.Http;

namespace KooGallery.Functions.Http;

/// <summary>
/// Reads a request body up to a limit, whether or not it declares a <c>Content-Length</c>: a chunked body of
/// any size is cut off at the limit instead of being read whole into memory.
/// </summary>
public static class BoundedBody
{
    /// <summary>
    /// The most a refused body is read (and thrown away) before answering: the Functions host's own request limit
    /// (100 MB by default, <c>FUNCTIONS_REQUEST_BODY_SIZE_LIMIT</c>) refuses anything larger before it gets here.
    /// </summary>
    public const long MaxDrainBytes = 100L * 1024 * 1024;

    private static readonly TimeSpan MaxDrainTime = TimeSpan.FromSeconds(20);

    /// <summary>
    /// The body, or null when it is larger than <paramref name="maxBytes"/>. A body over the limit is read to its
    /// end and discarded (up to <see cref="MaxDrainBytes"/>) before the caller answers: the Functions host
    /// forwards the request to this worker, and a worker that answers while the host is still sending the body
    /// makes the host fail the call with an empty HTTP 500 instead of passing on the answer.
    /// </summary>
    /// <exception cref="IOException">The transfer broke off.</exception>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        var chunk = new byte[16 * 1024];
        if (request.ContentLength > maxBytes)
        {
            await DrainAsync(request.Body, chunk, cancellationToken).ConfigureAwait(false);
            return null;
        }

        using var buffer = new MemoryStream();
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                await DrainAsync(request.Body, chunk, cancellationToken).ConfigureAwait(false);
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    /// <summary>Reads what is left of a refused body and forgets it, within a byte and a time bound; never throws.</summary>
    private static async Task DrainAsync(Stream body, byte[] chunk, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(MaxDrainTime);
        long total = 0;
        try
        {
            int read;
            while (total < MaxDrainBytes && (read = await body.ReadAsync(chunk, bounded.Token).ConfigureAwait(false)) > 0)
            {
                total += read;
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
        {
            // The client gave up or the bound ran out: the answer is the same.
        }
    }
}
