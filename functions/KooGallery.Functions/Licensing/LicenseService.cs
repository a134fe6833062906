using KooGallery.Functions.Instances;
using KooGallery.Functions.Marketplace;
using KooGallery.Functions.Storage;
using KooGallery.Protocol;
using KooGallery.Protocol.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace KooGallery.Functions.Licensing;

/// <summary>The answer to "may this licence be used now?", from stored state.</summary>
public sealed record LicenseVerdict(
    string License,
    bool Allowed,
    string Status,
    DateTimeOffset? ExpiresAt,
    string? Reason,
    string? RenewUrl,
    DateTimeOffset? CheckedAt,
    double? AgeSeconds,
    bool Stale);

/// <summary>What an activation did.</summary>
public sealed record LicenseActivation(bool Activated, bool Again, bool Unreachable, string? Reason, LicenseVerdict? Verdict);

/// <summary>
/// Licence-code products (licence-code 2.0): KooGallery's licence callbacks (renewal, freeze, release), the
/// activation and the daily check the merchant's software asks for, and telling the merchant's systems of
/// every change through the tenant seam. A licence KooGallery mentions before the customer typed it in is
/// recorded, not refused. Every change is one transaction under the licence row's ETag.
/// </summary>
public sealed class LicenseService(
    LicenseRepository licenses,
    LicenseNotifier notifier,
    KooGalleryOpenApi koogallery,
    IOptionsMonitor<LicenseOptions> options,
    IOptionsMonitor<LifecycleOptions> lifecycle,
    TimeProvider time,
    ILogger<LicenseService> logger)
{
    private const int MaxConflictRetries = 5;

    public Task<KooGalleryResponse> RefreshAsync(RefreshLicenseCodeRequest request, CancellationToken cancellationToken)
    {
        if (!RefreshInstanceRequest.TryParseExpireTime(request.ExpireTime, out var wallClock))
        {
            // The wire model validated it already; this only guards a request built by hand.
            return Task.FromResult(new KooGalleryResponse(ResultCode.InvalidParameter, $"expireTime must be {RefreshInstanceRequest.ExpireTimeFormat}."));
        }

        var expiresAt = new DateTimeOffset(wallClock, lifecycle.CurrentValue.ParsedExpireTimeOffset);
        return ChangeAsync(
            request.License, request.IsTest, Activities.RefreshLicenseCode, request.OrderId, InstanceKeys.Marker("refresh", request.OrderId, request.Scene),
            license =>
            {
                if (license.Status == LicenseStatus.Released)
                {
                    return Reject("the licence is released and cannot be renewed.");
                }

                license.ExpireTime = request.ExpireTime;
                license.ExpiresAt = expiresAt;
                license.ProductId = request.ProductId ?? license.ProductId;
                license.OrderId = request.OrderId;
                license.LastScene = request.Scene;
                license.RefreshDue = true; // the software's next check asks KooGallery at once
                license.RefusedReason = null;
                return Apply("license.refreshed", $"{request.Scene}: expires {request.ExpireTime} ({expiresAt:O})");
            },
            cancellationToken);
    }

    public Task<KooGalleryResponse> UpdateStatusAsync(UpdateLicenseCodeStatusRequest request, CancellationToken cancellationToken) =>
        ChangeAsync(
            request.License, request.IsTest, Activities.UpdateLicenseCodeStatus, null, null,
            license => (request.Status, license.Status) switch
            {
                (_, LicenseStatus.Released) when request.Status == InstanceStatusChanges.Unfreeze => Reject("the licence is released and cannot be unfrozen."),
                (_, LicenseStatus.Released) => Done("released: nothing is in use."),
                (InstanceStatusChanges.Freeze, LicenseStatus.Frozen) => Done("already frozen."),
                (InstanceStatusChanges.Unfreeze, LicenseStatus.Active) => Done("not frozen."),
                (InstanceStatusChanges.Freeze, _) => Set(license, LicenseStatus.Frozen, "license.frozen"),
                _ => Set(license, LicenseStatus.Active, "license.unfrozen"),
            },
            cancellationToken);

    public Task<KooGalleryResponse> ReleaseAsync(ReleaseLicenseCodeRequest request, CancellationToken cancellationToken) =>
        ChangeAsync(
            request.License, request.IsTest, Activities.ReleaseLicenseCode, request.OrderId, null,
            license => license.Status == LicenseStatus.Released ? Done("already released.") : Set(license, LicenseStatus.Released, "license.released"),
            cancellationToken);

    /// <summary>
    /// The merchant's software activates a licence the customer typed in: KooGallery's activate is called
    /// (its refusal passed on with its reason) and who activated it when is recorded. The same account and
    /// machine again is not an error and does not ask KooGallery again.
    /// </summary>
    public async Task<LicenseActivation> ActivateAsync(string license, string? account, string? machine, CancellationToken cancellationToken)
    {
        var stored = await licenses.GetAsync(license, cancellationToken).ConfigureAwait(false);
        if (stored?.ActivatedAt is not null && stored.ActivatedAccount == account && stored.ActivatedMachine == machine)
        {
            return new LicenseActivation(true, true, false, null, Verdict(stored, time.GetUtcNow(), stale: false));
        }

        try
        {
            await koogallery.ActivateLicenseAsync(license, cancellationToken).ConfigureAwait(false);
        }
        catch (MarketplaceException ex) when (!ex.IsTransient)
        {
            var reason = ex is MarketplaceBusinessException b ? $"KooGallery refused the activation: {b.ResultCode} {b.ResultMsg}" : ex.Message;
            logger.LogWarning("Activation of licence {License} refused by KooGallery: {Reason}", license, reason);
            await UpdateAsync(license, l => l.RefusedReason = reason, "activation-refused", reason, cancellationToken).ConfigureAwait(false);
            return new LicenseActivation(false, false, false, reason, null);
        }
        catch (MarketplaceException ex)
        {
            logger.LogWarning("Activation of licence {License}: KooGallery could not be reached ({Error}).", license, ex.Message);
            return new LicenseActivation(false, false, true, "KooGallery could not be reached; try the activation again in a few minutes.", null);
        }

        var now = time.GetUtcNow();
        var saved = await UpdateAsync(license, l =>
        {
            l.ActivatedAt = now;
            l.ActivatedAccount = account;
            l.ActivatedMachine = machine;
            l.RefusedReason = null;
            l.RefreshDue = true;
        }, "activated", $"activated by account {account ?? "-"} on machine {machine ?? "-"}", cancellationToken).ConfigureAwait(false);
        logger.LogInformation("Licence {License} activated (account {Account}, machine {Machine}).", license, account, machine);
        return new LicenseActivation(true, false, false, null, Verdict(saved, now, stale: false));
    }

    /// <summary>
    /// "May this licence be used now?" Answered from stored state, refreshed from KooGallery's licence query
    /// at most once per <see cref="LicenseOptions.RefreshInterval"/> (and at once after a refreshLicenseCode
    /// or an activation). When KooGallery cannot be reached in <see cref="LicenseOptions.QueryTimeout"/>, the
    /// stored answer stands, with its age.
    /// </summary>
    public async Task<LicenseVerdict> CheckAsync(string license, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        var stored = await licenses.GetAsync(license, cancellationToken).ConfigureAwait(false);
        var now = time.GetUtcNow();
        if (stored is not null && !stored.RefreshDue && stored.QueriedAt is { } at && now - at < settings.RefreshInterval)
        {
            return Verdict(stored, now, stale: false);
        }

        string raw;
        using (var limit = new CancellationTokenSource(settings.QueryTimeout, time))
        using (var linked = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancellationToken))
        {
            try
            {
                raw = await koogallery.QueryLicenseAsync(license, linked.Token).ConfigureAwait(false);
            }
            catch (MarketplaceBusinessException ex) when (!ex.IsTransient)
            {
                var reason = $"KooGallery does not accept this licence: {ex.ResultCode} {ex.ResultMsg}";
                var refused = await UpdateAsync(license, l =>
                {
                    l.RefusedReason = reason;
                    l.QueriedAt = now;
                    l.RefreshDue = false;
                }, "query-refused", reason, cancellationToken).ConfigureAwait(false);
                return Verdict(refused, now, stale: false);
            }
            catch (Exception ex) when (ex is MarketplaceException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                logger.LogWarning("Licence {License}: KooGallery's licence query failed ({Error}); answering the stored state.", license, ex.Message);
                return stored is null
                    ? new LicenseVerdict(license, false, "unknown", null, "KooGallery could not be reached to verify this licence; try again in a few minutes.", settings.RenewalUrl, null, null, true)
                    : Verdict(stored, now, stale: true);
            }
        }

        var answer = LicenseAnswer.Read(raw, license, lifecycle.CurrentValue.ParsedExpireTimeOffset);
        var updated = await UpdateAsync(license, l =>
        {
            l.QueriedAt = now;
            l.QueryAnswer = raw.Length > 8000 ? raw[..8000] : raw;
            l.RefreshDue = false;
            l.RefusedReason = answer.Expired ? "KooGallery reports the licence expired." : null;
            // A release KooGallery called us for is final; otherwise the fresher answer wins.
            l.Status = l.Status == LicenseStatus.Released ? l.Status : answer.Status ?? l.Status;
            l.RenewUrl = answer.RenewUrl ?? l.RenewUrl;
            if (answer.ExpiresAt is { } expiresAt)
            {
                l.ExpireTime = answer.ExpireTime;
                l.ExpiresAt = expiresAt;
            }
        }, "queried", $"KooGallery: status {answer.Status ?? "(not given)"}, expires {answer.ExpireTime ?? "(not given)"}", cancellationToken).ConfigureAwait(false);
        return Verdict(updated, now, stale: false);
    }

    private LicenseVerdict Verdict(LicenseEntity license, DateTimeOffset now, bool stale)
    {
        var settings = options.CurrentValue;
        var (allowed, status, reason) = license switch
        {
            { Status: LicenseStatus.Released } => (false, LicenseStatus.Released, "This licence was released by KooGallery (the subscription ended). Buy a new one to keep using the software."),
            { Status: LicenseStatus.Frozen } => (false, LicenseStatus.Frozen, "This licence is frozen by KooGallery (for example an overdue payment). Renew or settle it on KooGallery, then try again."),
            { ExpiresAt: { } expires } when expires <= now => (false, "expired", $"This licence expired on {expires:yyyy-MM-dd HH:mm} (UTC{expires:zzz}). Renew it on KooGallery to keep using the software."),
            { RefusedReason: { } refused } => (false, "refused", refused),
            _ => (true, LicenseStatus.Active, (string?)null),
        };
        var age = license.QueriedAt is { } at ? (now - at).TotalSeconds : (double?)null;
        return new LicenseVerdict(license.License, allowed, status, license.ExpiresAt, reason, allowed ? null : license.RenewUrl ?? settings.RenewalUrl, license.QueriedAt, age, stale);
    }

    /// <summary>A change KooGallery sent: decided on the licence as stored, written with its event and marker in one transaction.</summary>
    private async Task<KooGalleryResponse> ChangeAsync(
        string license, bool isTest, string activity, string? orderId, string? marker, Func<LicenseEntity, ChangeDecision> decide, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxConflictRetries; attempt++)
        {
            var now = time.GetUtcNow();
            var stored = await licenses.GetAsync(license, cancellationToken).ConfigureAwait(false);
            var entity = stored ?? new LicenseEntity { License = license, IsTest = isTest, CreatedAt = now };
            var decision = decide(entity);
            if (decision.Code is { } refusal)
            {
                logger.LogInformation("{Activity} for licence {License}: {Outcome}", activity, license, decision.Message);
                return new KooGalleryResponse(refusal, decision.Message);
            }

            if (decision.Event is null)
            {
                return new KooGalleryResponse(ResultCode.Success, "success (" + decision.Message + ")");
            }

            entity.Version++;
            entity.LastEvent = decision.Event;
            await notifier.ScheduleCheckAsync(license, now, cancellationToken).ConfigureAwait(false);
            var outcome = await licenses.SaveAsync(entity, stored is null, [licenses.Event("callback", activity, orderId, decision.Message + (stored is null ? " (licence first seen)" : string.Empty))], marker, now, cancellationToken).ConfigureAwait(false);
            switch (outcome)
            {
                case CommitOutcome.Committed:
                    logger.LogInformation("{Activity} applied to licence {License} (order {OrderId}): {Detail}.", activity, license, orderId, decision.Message);
                    await notifier.HandOverAsync(license, cancellationToken).ConfigureAwait(false);
                    return new KooGalleryResponse(ResultCode.Success);
                case CommitOutcome.AlreadyApplied:
                    return new KooGalleryResponse(ResultCode.Success, "success (already applied).");
            }
        }

        throw new InvalidOperationException($"Licence {license} kept changing under {activity}; KooGallery will retry.");
    }

    /// <summary>Records something the merchant's software caused (activation, a query), creating the licence when new.</summary>
    private async Task<LicenseEntity> UpdateAsync(string license, Action<LicenseEntity> change, string kind, string detail, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxConflictRetries; attempt++)
        {
            var now = time.GetUtcNow();
            var stored = await licenses.GetAsync(license, cancellationToken).ConfigureAwait(false);
            var entity = stored ?? new LicenseEntity { License = license, CreatedAt = now };
            change(entity);
            if (await licenses.SaveAsync(entity, stored is null, [licenses.Event(kind, detail: detail)], null, now, cancellationToken).ConfigureAwait(false) == CommitOutcome.Committed)
            {
                return entity;
            }
        }

        throw new InvalidOperationException($"Licence {license} kept changing while {kind} was recorded.");
    }

    private static ChangeDecision Apply(string notice, string detail) => new(null, notice, detail);

    private static ChangeDecision Done(string why) => new(null, null, why);

    private static ChangeDecision Reject(string why) => new(ResultCode.InvalidParameter, null, why);

    private static ChangeDecision Set(LicenseEntity license, string status, string notice)
    {
        license.Status = status;
        return Apply(notice, $"status {status}");
    }

    /// <param name="Code">Set when the change is refused.</param>
    /// <param name="Event">The <c>license.*</c> event to tell the merchant's systems; null when nothing changes.</param>
    private sealed record ChangeDecision(ResultCode? Code, string? Event, string Message);
}
