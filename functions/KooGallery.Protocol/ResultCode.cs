namespace KooGallery.Protocol;

/// <summary>
/// A KooGallery <c>resultCode</c> (§6). Anything other than <see cref="Success"/> is a failure to
/// KooGallery and starts its retry and notification machinery, so the choice of code is part of the contract.
/// </summary>
public readonly record struct ResultCode
{
    private ResultCode(string value, string defaultMessage)
    {
        Value = value;
        DefaultMessage = defaultMessage;
    }

    /// <summary>The six-digit wire value, e.g. <c>000000</c>.</summary>
    public string Value { get; }

    /// <summary>A short English text for <c>resultMsg</c> when the handler has nothing more precise to say.</summary>
    public string DefaultMessage { get; }

    public bool IsSuccess => Value == Success.Value;

    /// <summary>Handled, including idempotent repeats.</summary>
    public static readonly ResultCode Success = new("000000", "success.");

    /// <summary>Missing or wrong signature, or a nonce replayed with another body.</summary>
    public static readonly ResultCode AuthenticationFailed = new("000001", "authentication failed.");

    /// <summary>Missing or invalid fields, malformed or stale timestamp, missing nonce, over 100 ids.</summary>
    public static readonly ResultCode InvalidParameter = new("000002", "invalid request parameters.");

    /// <summary>The instance id is not known to this merchant.</summary>
    public static readonly ResultCode InstanceNotFound = new("000003", "instance does not exist.");

    /// <summary>Accepted, still being processed (used for instances that are not provisioned yet).</summary>
    public static readonly ResultCode Processing = new("000004", "request is being processed.");

    /// <summary>Our fault; KooGallery retries.</summary>
    public static readonly ResultCode InternalError = new("000005", "internal error, please retry.");

    /// <summary>No capacity for a new or upgraded instance.</summary>
    public static readonly ResultCode NoInstanceResources = new("000100", "no instance resources available.");

    /// <summary>Joint-operation <c>applicationSync</c>: the client secret could not be decrypted.</summary>
    public static readonly ResultCode AppSecretError = new("000101", "client secret could not be decrypted.");

    private static readonly ResultCode[] Known =
        [Success, AuthenticationFailed, InvalidParameter, InstanceNotFound, Processing, InternalError, NoInstanceResources, AppSecretError];

    /// <summary>Maps a wire value back to a known code (used by clients and the simulator).</summary>
    public static bool TryParse(string? value, out ResultCode code)
    {
        foreach (var known in Known)
        {
            if (known.Value == value)
            {
                code = known;
                return true;
            }
        }

        code = default;
        return false;
    }

    public override string ToString() => Value;
}
