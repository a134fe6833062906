using System.Text.Json;

namespace KooGallery.Protocol.Wire;

/// <summary>
/// <c>refreshLicenseCode</c> (§5.11): a licence's new expiry after a renewal, a trial turned formal, or a
/// renewal cancelled. Field lengths are not published; ids are taken as at most 64 characters like the SaaS ones.
/// </summary>
public sealed record RefreshLicenseCodeRequest(string License, string OrderId, string OrderLineId, string ExpireTime, string? ProductId, string Scene, bool IsTest)
{
    public static WireParse<RefreshLicenseCodeRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var license = f.Required("license", Limits.Id);
        var orderId = f.Required("orderId", Limits.Id);
        var orderLineId = f.Required("orderLineId", Limits.Id);
        var expireTime = f.Required("expireTime", Limits.ExpireTime);
        var productId = f.Optional("productId", Limits.Id);
        var scene = f.Required("scene", Limits.Scene);
        var isTest = f.TestFlag();
        if (f.Error is not null)
        {
            return WireParse<RefreshLicenseCodeRequest>.Fail(f.Error);
        }

        if (!RefreshScenes.All.Contains(scene))
        {
            return WireParse<RefreshLicenseCodeRequest>.Fail($"scene '{scene}' is not one of {string.Join(", ", RefreshScenes.All)}.");
        }

        return RefreshInstanceRequest.TryParseExpireTime(expireTime, out _)
            ? WireParse<RefreshLicenseCodeRequest>.Ok(new(license, orderId, orderLineId, expireTime, productId, scene, isTest))
            : WireParse<RefreshLicenseCodeRequest>.Fail($"expireTime must be {RefreshInstanceRequest.ExpireTimeFormat}.");
    }
}

/// <summary><c>updateLicenseCodeStatus</c> (§5.11): freeze or unfreeze a licence.</summary>
public sealed record UpdateLicenseCodeStatusRequest(string License, string Status, bool IsTest)
{
    public static WireParse<UpdateLicenseCodeStatusRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var license = f.Required("license", Limits.Id);
        var status = f.Required("status", Limits.Status);
        var isTest = f.TestFlag();
        if (f.Error is not null)
        {
            return WireParse<UpdateLicenseCodeStatusRequest>.Fail(f.Error);
        }

        return status is InstanceStatusChanges.Freeze or InstanceStatusChanges.Unfreeze
            ? WireParse<UpdateLicenseCodeStatusRequest>.Ok(new(license, status, isTest))
            : WireParse<UpdateLicenseCodeStatusRequest>.Fail($"status must be {InstanceStatusChanges.Freeze} or {InstanceStatusChanges.Unfreeze}.");
    }
}

/// <summary><c>releaseLicenseCode</c> (§5.11): the licence is released after its retention period.</summary>
public sealed record ReleaseLicenseCodeRequest(string License, string? OrderId, string? OrderLineId, bool IsTest)
{
    public static WireParse<ReleaseLicenseCodeRequest> Parse(JsonElement body)
    {
        var f = new FieldReader(body);
        var license = f.Required("license", Limits.Id);
        var orderId = f.Optional("orderId", Limits.Id);
        var orderLineId = f.Optional("orderLineId", Limits.Id);
        var isTest = f.TestFlag();
        return f.Error is null
            ? WireParse<ReleaseLicenseCodeRequest>.Ok(new(license, orderId, orderLineId, isTest))
            : WireParse<ReleaseLicenseCodeRequest>.Fail(f.Error);
    }
}
