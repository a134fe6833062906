using System.Text.Json.Nodes;
using KooGallery.Simulator;

namespace KooGallery.Functions.Tests;

/// <summary><c>koogallery-sim send</c> fails the command when the check fails, so scripts can rely on its exit code.</summary>
public class SimulatorSendTests
{
    private static CallResult Result(string code, bool bodySignValid = true, int status = 200, string? error = null) =>
        new("queryInstance", "https://x/api/koogallery", "{}", status, "{}", "sig", bodySignValid, TimeSpan.Zero, new JsonObject { ["resultCode"] = code, ["resultMsg"] = "m" }, error);

    [Theory]
    [InlineData("000000", true, 200, null, 0)]
    [InlineData("000004", true, 200, null, 0)]
    [InlineData("000002", true, 200, null, 0)]
    [InlineData("000001", true, 200, null, 1)]
    [InlineData("000000", false, 200, null, 1)]
    [InlineData("000000", true, 500, null, 1)]
    [InlineData("000000", true, 200, "the answer is not JSON", 1)]
    public void Send_exits_non_zero_on_an_authentication_failure_or_a_body_sign_that_does_not_verify(string code, bool signOk, int status, string? error, int exit) =>
        Assert.Equal(exit == 0, Result(code, signOk, status, error).Verified);
}
