using KooGallery.Functions.Instances;
using KooGallery.Functions.Metering;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace KooGallery.Functions.Operations;

/// <summary>
/// The operator console: the page (static files shipped in the package, no data in them) and the JSON
/// endpoints it reads, under <c>/api/ops/console/…</c>. Those are anonymous for the Functions host because
/// the app itself decides (<see cref="OperatorAccess"/>): a signed-in principal with the operator role, or
/// an operator key. The master-key endpoints under <c>/api/ops/…</c> stay as they are for scripts.
/// </summary>
public sealed class ConsoleFunctions(OperatorAccess access, OperatorConsole console, JointOperation.KitSyncService kit, JointOperation.LoginService login)
{
    private static readonly Dictionary<string, string> Files = new(StringComparer.Ordinal)
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["console.js"] = "text/javascript; charset=utf-8",
        ["console.css"] = "text/css; charset=utf-8",
    };

    /// <summary>The folder the console's files are copied to in the build output.</summary>
    public static string Root { get; set; } = Path.Combine(AppContext.BaseDirectory, "console");

    [Function("ConsolePage")]
#pragma warning disable CA1822 // the Functions worker calls functions on an instance of their class
    public IActionResult Page(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "console/{file?}")] HttpRequest request,
        string? file)
    {
        file = string.IsNullOrEmpty(file) ? "index.html" : file;
        if (!Files.TryGetValue(file, out var contentType))
        {
            return new NotFoundResult();
        }

        request.HttpContext.Response.Headers.CacheControl = "no-cache";
        request.HttpContext.Response.Headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'";
        request.HttpContext.Response.Headers.XContentTypeOptions = "nosniff";
        return new PhysicalFileResult(Path.Combine(Root, file), contentType);
    }
#pragma warning restore CA1822

    [Function("ConsoleOverview")]
    public async Task<IActionResult> Overview(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "ops/console/overview")] HttpRequest request,
        CancellationToken cancellationToken) =>
        access.Authenticate(request) is { } who
            ? Json(new
            {
                signedInAs = who.Name,
                overview = await console.OverviewAsync(cancellationToken).ConfigureAwait(false),
                loginAddresses = await JointOperation.LoginAddressList.ReadAsync(kit, login, Http.RequestOrigin.Of(request), cancellationToken).ConfigureAwait(false),
            })
            : Refused();

    [Function("ConsoleFind")]
    public async Task<IActionResult> Find(
        [HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "ops/console/find")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        if (access.Authenticate(request) is null)
        {
            return Refused();
        }

        var query = request.Query["q"].FirstOrDefault()?.Trim();
        if (string.IsNullOrEmpty(query) || query.Length > 256)
        {
            return new BadRequestObjectResult(new { error = "q must be an order id, instance id, customer id or licence code (at most 256 characters)." });
        }

        return Json(await console.FindAsync(query, cancellationToken).ConfigureAwait(false));
    }

    [Function("ConsoleRedriveInstance")]
    public async Task<IActionResult> RedriveInstance(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "ops/console/instances/{instanceId}/redrive")] HttpRequest request,
        string instanceId,
        CancellationToken cancellationToken)
    {
        if (access.AuthenticateChange(request, out var forged) is not { } who)
        {
            return Refused(forged);
        }

        return InstanceAdmin.RedriveAnswer(await console.RedriveInstanceAsync(instanceId, who, cancellationToken).ConfigureAwait(false));
    }

    [Function("ConsoleRedriveAll")]
    public async Task<IActionResult> RedriveAll(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "ops/console/redrive")] HttpRequest request,
        CancellationToken cancellationToken) =>
        access.AuthenticateChange(request, out var forged) is { } who
            ? Json(new { results = (await console.RedriveAllAsync(who, cancellationToken).ConfigureAwait(false)).Select(InstanceAdmin.BulkView) })
            : Refused(forged);

    [Function("ConsoleRedriveParkedUsage")]
    public async Task<IActionResult> RedriveParkedUsage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "ops/console/usage/parked/{id}/redrive")] HttpRequest request,
        string id,
        CancellationToken cancellationToken)
    {
        if (access.AuthenticateChange(request, out var forged) is not { } who)
        {
            return Refused(forged);
        }

        return UsageAdmin.RedriveParkedAnswer(id, await console.RedriveParkedUsageAsync(id, who, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Re-drives refused usage rows: one (<c>?id=</c> from the overview's list) or all.</summary>
    [Function("ConsoleRedriveRefusedUsage")]
    public async Task<IActionResult> RedriveRefusedUsage(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "ops/console/usage/rejected/redrive")] HttpRequest request,
        CancellationToken cancellationToken)
    {
        if (access.AuthenticateChange(request, out var forged) is not { } who)
        {
            return Refused(forged);
        }

        return Json(await console.RedriveRefusedUsageAsync(request.Query["id"].FirstOrDefault(), who, cancellationToken).ConfigureAwait(false));
    }

    private static OkObjectResult Json(object value)
    {
        var result = new OkObjectResult(value);
        result.ContentTypes.Add("application/json");
        return result;
    }

    /// <summary>No data, and no hint of what exists: the page then offers the sign-in. A change that may have been forged by another site is 403.</summary>
    private static ObjectResult Refused(bool forged = false) =>
        forged
            ? new(new { error = "refused: a change must come from the console page itself." }) { StatusCode = StatusCodes.Status403Forbidden }
            : new(new { error = "sign in as an operator (role KooGallery.Operator) or send an operator key." }) { StatusCode = StatusCodes.Status401Unauthorized };
}
