using KooGallery.Protocol;

namespace KooGallery.Functions.Callbacks;

/// <summary>An answer ready to send: exact body bytes, their <c>Body-Sign</c> header value, and the code for telemetry.</summary>
public sealed record CallbackAnswer(byte[] Body, string BodySign, ResultCode ResultCode);
