using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Outbound;

internal static class OutboundRegistration
{
    /// <summary>
    /// The handler chain every outbound client shares, outermost first: retry → circuit breaker →
    /// per-attempt timeout. Certificate validation stays the platform default (no custom callback).
    /// </summary>
    public static IHttpClientBuilder AddResilience(this IHttpClientBuilder builder, string client) =>
        builder
            .ConfigureHttpClient(http => http.Timeout = Timeout.InfiniteTimeSpan) // bounded by the policies instead
            .AddPolicyHandler((sp, _) => sp.GetRequiredService<OutboundPolicies>().Retry(client))
            .AddPolicyHandler((sp, _) => sp.GetRequiredService<OutboundPolicies>().CircuitBreaker(client))
            .AddPolicyHandler((sp, _) => sp.GetRequiredService<OutboundPolicies>().AttemptTimeout(client))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                ConnectTimeout = TimeSpan.FromSeconds(5),
                PooledConnectionLifetime = TimeSpan.FromMinutes(5), // follow DNS changes of the hosts
                AutomaticDecompression = DecompressionMethods.All,
            });
}
