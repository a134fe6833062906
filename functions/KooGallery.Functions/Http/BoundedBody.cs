using Microsoft.AspNetCore.Http;

namespace KooGallery.Functions.Http;

/// <summary>
/// Reads a request body up to a limit, whether or not it declares a <c>Content-Length</c>: a chunked body of
/// any size is cut off at the limit instead of being read whole into memory.
/// </summary>
public static class BoundedBody
{
    /// <summary>The body, or null when it is larger than <paramref name="maxBytes"/> (the rest is left unread).</summary>
    /// <exception cref="IOException">The transfer broke off.</exception>
    public static async Task<byte[]?> ReadAsync(HttpRequest request, int maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }
}
