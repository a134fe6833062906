namespace KooGallery.Functions.Marketplace;

/// <summary>A call to KooGallery's open API did not succeed. Messages carry codes and ids, never credentials.</summary>
public abstract class MarketplaceException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>True when trying again later may succeed (the queue message should be retried).</summary>
    public abstract bool IsTransient { get; }
}

/// <summary>KooGallery answered with a business error code (e.g. <c>92020002</c> invalid parameter); retrying will not help.</summary>
public sealed class MarketplaceBusinessException(string operation, string resultCode, string? resultMsg)
    : MarketplaceException($"KooGallery {operation} answered {resultCode}: {resultMsg}")
{
    public string ResultCode { get; } = resultCode;

    public string? ResultMsg { get; } = resultMsg;

    public override bool IsTransient => ResultCode == OpenApiResultCodes.InternalError;
}

/// <summary>The API gateway refused the call (e.g. <c>APIGW.0301</c>, bad AK/SK signature) or answered an unexpected HTTP status.</summary>
public sealed class MarketplaceGatewayException(string operation, int status, string? errorCode, string? errorMsg)
    : MarketplaceException($"KooGallery {operation} was refused with HTTP {status} {errorCode}: {errorMsg}")
{
    public int Status { get; } = status;

    public string? ErrorCode { get; } = errorCode;

    public override bool IsTransient => Outbound.OutboundFailures.IsTransientStatus(Status);
}

/// <summary>
/// KooGallery answered HTTP 200 with something that is not a KooGallery answer (truncated JSON, an HTML
/// page from a proxy, no <c>resultCode</c>, a success without its data). Seen during gateway trouble, so
/// it is treated like a 5xx: worth trying again later.
/// </summary>
public sealed class MarketplaceMalformedAnswerException(string operation, string detail)
    : MarketplaceException($"KooGallery {operation} answered HTTP 200 with no usable KooGallery answer: {detail}")
{
    public override bool IsTransient => true;
}

/// <summary>KooGallery could not be reached after all retries (network, timeouts, open circuit).</summary>
public sealed class MarketplaceUnavailableException(string operation, Exception inner)
    : MarketplaceException($"KooGallery {operation} could not be reached: {inner.GetType().Name}: {inner.Message}", inner)
{
    public override bool IsTransient => true;
}

/// <summary>Open-API result codes (§5.9.1).</summary>
public static class OpenApiResultCodes
{
    public const string Success = "92020000";
    public const string InternalError = "92020001";
    public const string InvalidParameter = "92020002";
}
