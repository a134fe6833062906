using System.Diagnostics.CodeAnalysis;

namespace KooGallery.Protocol.Wire;

/// <summary>
/// Result of reading a request model from a body: the model, or one message naming the offending field
/// (answered with <see cref="ResultCode.InvalidParameter"/>).
/// </summary>
public readonly record struct WireParse<T>(T? Value, string? Error) where T : class
{
    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsValid => Error is null && Value is not null;

    public static WireParse<T> Ok(T value) => new(value, null);

    public static WireParse<T> Fail(string error) => new(null, error);
}
