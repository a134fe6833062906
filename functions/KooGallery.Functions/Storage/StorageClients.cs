using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Data.Tables;
using Azure.Identity;
using Azure.Storage.Queues;
using Microsoft.Extensions.Configuration;

namespace KooGallery.Functions.Storage;

/// <summary>
/// Builds the Table and Queue clients from the same <c>AzureWebJobsStorage</c> settings the Functions host
/// uses: a connection string (Azurite: <c>UseDevelopmentStorage=true</c>), or identity-based
/// <c>AzureWebJobsStorage__accountName</c> / <c>__tableServiceUri</c> / <c>__queueServiceUri</c> with
/// <c>__clientId</c> for a user-assigned managed identity.
/// </summary>
public static class StorageClients
{
    public const string ConnectionName = "AzureWebJobsStorage";

    /// <param name="policies">Extra pipeline policies per request (the tests and the benchmark count round trips with one).</param>
    public static TableServiceClient CreateTableServiceClient(IConfiguration configuration, params HttpPipelinePolicy[] policies)
    {
        var section = configuration.GetSection(ConnectionName);
        var options = Configure(new TableClientOptions(), policies);
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            return new TableServiceClient(section.Value, options);
        }

        return new TableServiceClient(ServiceUri(section, "table"), Credential(section), options);
    }

    public static QueueServiceClient CreateQueueServiceClient(IConfiguration configuration, params HttpPipelinePolicy[] policies)
    {
        var section = configuration.GetSection(ConnectionName);
        // The queue trigger decodes Base64 by default; plain-text messages would all land in -poison.
        var options = Configure(new QueueClientOptions { MessageEncoding = QueueMessageEncoding.Base64 }, policies);
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            return new QueueServiceClient(section.Value, options);
        }

        return new QueueServiceClient(ServiceUri(section, "queue"), Credential(section), options);
    }

    /// <summary>
    /// Bounded retries: callbacks must answer within KooGallery's 5 seconds, so a storage call may not
    /// spend the SDK's default 100-second network timeout; queue workers have the queue as outer retry.
    /// </summary>
    private static T Configure<T>(T options, HttpPipelinePolicy[] policies) where T : ClientOptions
    {
        foreach (var policy in policies)
        {
            options.AddPolicy(policy, HttpPipelinePosition.PerCall);
        }

        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = 2;
        options.Retry.Delay = TimeSpan.FromMilliseconds(100);
        options.Retry.MaxDelay = TimeSpan.FromMilliseconds(800);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(2);
        return options;
    }

    private static Uri ServiceUri(IConfigurationSection section, string service)
    {
        var explicitUri = section[$"{service}ServiceUri"];
        if (!string.IsNullOrWhiteSpace(explicitUri))
        {
            return new Uri(explicitUri);
        }

        // Only an account name: its endpoint in this cloud. Azure (the default), or another cloud's suffix given
        // as AzureWebJobsStorage__endpointSuffix (e.g. core.chinacloudapi.cn); the Bicep sets the URIs instead.
        var account = section["accountName"];
        if (!string.IsNullOrWhiteSpace(account))
        {
            var suffix = section["endpointSuffix"] is { Length: > 0 } configured ? configured.Trim('.') : "core.windows.net";
            return new Uri($"https://{account}.{service}.{suffix}");
        }

        throw new InvalidOperationException(
            $"Storage is not configured: set {ConnectionName} to a connection string (UseDevelopmentStorage=true for Azurite), " +
            $"or {ConnectionName}__accountName (or __{service}ServiceUri) for identity-based access.");
    }

    private static TokenCredential Credential(IConfigurationSection section)
    {
        var clientId = section["clientId"];
        return string.IsNullOrWhiteSpace(clientId)
            ? new DefaultAzureCredential()
            : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
    }
}
