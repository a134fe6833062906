namespace KooGallery.Protocol.Calling;

/// <summary>
/// What the seller console's debugging tool (§7.2) checks on every answer — JSON, a 6-digit <c>resultCode</c>,
/// <c>resultMsg</c> length, a <c>Body-Sign</c> that verifies over the exact bytes, an answer within the time
/// budget — collected per case. Shared by the simulator's conformance suite and the app's dial test, so both
/// judge an answer the same way.
/// </summary>
public sealed class AnswerCheck(TimeSpan maxAnswerTime)
{
    public List<string> Failures { get; } = [];

    public int Calls { get; set; }

    /// <summary>The slowest answer seen, against the budget: what a case reports as its time.</summary>
    public TimeSpan Slowest { get; private set; }

    /// <summary>The last answer seen, as its code and message (or why there was none): what a case records.</summary>
    public string? LastAnswer { get; private set; }

    public void Fail(string reason) => Failures.Add(reason);

    /// <summary>What KooGallery's tool checks on every answer, whatever the code.</summary>
    public bool WellFormed(CallResult r, string what)
    {
        var before = Failures.Count;
        Slowest = r.Elapsed > Slowest ? r.Elapsed : Slowest;
        LastAnswer = r.ResultCode is { } code ? $"{r.Activity} {code} {r.ResultMsg}".TrimEnd() : r.Error;
        if (r.Error is not null)
        {
            Fail($"{what}: {r.Error}");
            return false;
        }

        if (r.Status != 200)
        {
            Fail($"{what}: HTTP {r.Status}, KooGallery expects 200 with a resultCode");
        }

        if (r.ResultCode is not { Length: 6 } || !r.ResultCode.All(char.IsAsciiDigit))
        {
            Fail($"{what}: resultCode missing or not 6 digits");
        }

        if (r.ResultMsg is { Length: > 255 })
        {
            Fail($"{what}: resultMsg longer than 255 characters");
        }

        if (r.BodySignHeader is null)
        {
            Fail($"{what}: no Body-Sign header");
        }
        else if (!r.BodySignValid)
        {
            Fail($"{what}: Body-Sign does not verify over the answer");
        }

        if (r.Elapsed > maxAnswerTime)
        {
            Fail($"{what}: answered in {r.Elapsed.TotalMilliseconds:F0} ms, over KooGallery's {maxAnswerTime.TotalMilliseconds:F0} ms");
        }

        return Failures.Count == before;
    }

    public bool Answer(CallResult r, string code, string what)
    {
        var wellFormed = WellFormed(r, what);

        // A readable code is reported even when the answer is otherwise unfit: "000001" says more than a bad Body-Sign.
        if (r.ResultCode is { } answered && answered != code)
        {
            Fail($"{what}: expected {code}, got {answered} ({r.ResultMsg})");
            return false;
        }

        return wellFormed;
    }
}
