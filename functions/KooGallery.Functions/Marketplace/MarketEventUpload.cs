using System.Net.Http.Headers;

namespace KooGallery.Functions.Marketplace;

/// <summary>
/// A market-event upload (§5.9.4). KooGallery publishes only that a <c>type</c> selects a string or a
/// file and that the string is required for <c>type=CHARACTERS</c>; every other choice is an assumption,
/// kept here: a <c>multipart/form-data</c> body with the fields <c>type</c> (<c>CHARACTERS</c> or <c>FILE</c>),
/// <c>content</c> (the string) or <c>file</c> (the stream, with its file name), sent over HTTPS through the
/// same signed client and host fallback as every open-API call.
/// </summary>
public sealed record MarketEventUpload(string EventId, string Type, string? Characters, byte[]? File, string? FileName)
{
    public const string CharactersType = "CHARACTERS";
    public const string FileType = "FILE";

    public static MarketEventUpload Text(string eventId, string text) => new(eventId, CharactersType, text, null, null);

    public static MarketEventUpload Stream(string eventId, byte[] file, string fileName) => new(eventId, FileType, null, file, fileName);

    internal HttpContent ToContent()
    {
        // A fixed boundary keeps the bytes the APIG signature covers the bytes that are sent.
        var form = new MultipartFormDataContent("koogallery-market-event-" + Guid.NewGuid().ToString("N"))
        {
            { new StringContent(Type), "type" },
        };
        if (Type == CharactersType)
        {
            form.Add(new StringContent(Characters ?? string.Empty), "content");
        }
        else
        {
            var file = new ByteArrayContent(File ?? []);
            file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            form.Add(file, "file", FileName ?? "upload.bin");
        }

        return form;
    }
}
