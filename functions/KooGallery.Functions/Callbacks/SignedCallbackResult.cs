using KooGallery.Protocol.Signing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace KooGallery.Functions.Callbacks;

/// <summary>
/// Writes an answer's exact bytes with HTTP 200 and their <c>Body-Sign</c>. No formatter touches the
/// body after it was signed (a re-serialisation or an appended newline would break the signature).
/// </summary>
public sealed class SignedCallbackResult(CallbackAnswer answer) : IActionResult
{
    public CallbackAnswer Answer { get; } = answer;

    public async Task ExecuteResultAsync(ActionContext context)
    {
        var response = context.HttpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json;charset=UTF-8";
        response.ContentLength = Answer.Body.Length;
        response.Headers[BodySign.HeaderName] = Answer.BodySign;
        await response.Body.WriteAsync(Answer.Body, context.HttpContext.RequestAborted).ConfigureAwait(false);
    }
}
