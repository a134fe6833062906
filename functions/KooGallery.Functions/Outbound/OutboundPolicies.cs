using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;

namespace KooGallery.Functions.Outbound;

/// <summary>
/// One set of policy instances per named client, for the app's lifetime. HttpClientFactory rebuilds its
/// handlers every few minutes; the circuit breaker's state must survive that, so the policies live here.
/// </summary>
public sealed class OutboundPolicies(IOptions<OutboundHttpOptions> options, ILoggerFactory loggers)
{
    private readonly ConcurrentDictionary<string, (IAsyncPolicy<HttpResponseMessage> Retry, IAsyncPolicy<HttpResponseMessage> Breaker, IAsyncPolicy<HttpResponseMessage> Timeout)> policies = new();

    public IAsyncPolicy<HttpResponseMessage> Retry(string client) => For(client).Retry;

    public IAsyncPolicy<HttpResponseMessage> CircuitBreaker(string client) => For(client).Breaker;

    public IAsyncPolicy<HttpResponseMessage> AttemptTimeout(string client) => For(client).Timeout;

    private (IAsyncPolicy<HttpResponseMessage> Retry, IAsyncPolicy<HttpResponseMessage> Breaker, IAsyncPolicy<HttpResponseMessage> Timeout) For(string client) =>
        policies.GetOrAdd(client, name =>
        {
            var logger = loggers.CreateLogger("KooGallery.Outbound." + name);
            return (
                ResiliencePolicies.Retry(options.Value, logger, name),
                ResiliencePolicies.CircuitBreaker(options.Value, logger, name),
                ResiliencePolicies.AttemptTimeout(options.Value));
        });
}
