using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure.Data.Tables;
using Azure.Storage.Queues;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Protocol.Crypto;
using Microsoft.Extensions.DependencyInjection;

namespace KooGallery.Functions.Tests;

/// <summary>
/// Nothing secret sits in clear text in storage: after a whole life cycle (new, query, renew, freeze, release),
/// licence callbacks and kit syncs carrying a client secret, every entity of every table and every queue message
/// the app wrote is scanned for the tenant's password, the decrypted client secret, the Keys and the AK/SK.
/// </summary>
public class SecretsAtRestTests
{
    private const string ClientSecret = "kit-client-secret-7f3a91c2-never-in-storage";

    [Fact]
    public async Task After_a_whole_life_cycle_no_entity_or_queue_message_holds_a_secret_in_clear_text()
    {
        using var merchantKey = RSA.Create(2048);
        await using var market = await LocalMarketplace.StartAsync(s => s["JointOperation:RsaPrivateKey"] = merchantKey.ExportPkcs8PrivateKeyPem());
        var app = market.App;
        var id = await market.NewInstanceAsync("CS-SECRET-0001", test: false);
        await market.DrainAsync();

        var query = await market.CallAsync("queryInstance", new { instanceId = id });
        Assert.Equal("000000", query.ResultCode);
        var password = FindPassword(JsonDocument.Parse(query.Body).RootElement);
        Assert.False(string.IsNullOrEmpty(password), "queryInstance carried no password to look for: " + query.Text);

        foreach (var (activity, fields) in new (string, object)[]
        {
            ("refreshInstance", new { instanceId = id, orderId = "CS-SECRET-0002", orderLineId = "CS-SECRET-0002-1", scene = "RENEWAL", expireTime = "20301231235959" }),
            ("updateInstanceStatus", new { instanceId = id, status = "FREEZE" }),
            ("releaseInstance", new { instanceId = id, orderId = "CS-SECRET-0003" }),
            ("refreshLicenseCode", new { license = "PLSECRET0001", orderId = "CS-SECRET-0004", orderLineId = "CS-SECRET-0004-1", expireTime = "20301231235959", productId = "OFFI-LIC", scene = "RENEWAL" }),
        })
        {
            Assert.Equal("000000", (await market.CallAsync(activity, fields)).ResultCode);
        }

        var tenant = """{"domainName":"https://tenant.example.com","flag":1,"instanceId":"kg-secret","name":"Secret Co","orderId":"CS-SECRET-0005","tenantCode":"secretco","tenantId":"T-SECRET","testFlag":0,"timeStamp":"20261203093539534"}""";
        Assert.Equal("000000", (await KitSyncTests.SyncAsync(app, "tenantSync", tenant)).ResultCode);
        var encrypted = ClientSecretCipher.Encrypt(merchantKey, ClientSecret, sha256: true);
        var application = $$"""{"clientId":"secret-client","clientSecret":"{{encrypted}}","flag":1,"instanceId":"kg-secret","tenantId":"T-SECRET","testFlag":0}""";
        Assert.Equal("000000", (await KitSyncTests.SyncAsync(app, "applicationSync", application)).ResultCode);
        await market.DrainAsync();

        var secrets = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["the tenant's initial password"] = password!,
            ["the decrypted clientSecret"] = ClientSecret,
            ["the Key"] = TestApp.Key,
            ["the kit Key"] = TestApp.KitKey,
            ["the AK"] = app.Settings["Marketplace:AccessKey"]!,
            ["the SK"] = app.Settings["Marketplace:SecretKey"]!,
            ["the credential key"] = app.Settings["Credentials:Keys:0"]!,
            ["the RSA private key"] = merchantKey.ExportPkcs8PrivateKeyPem().Split('\n')[1],
        };
        var found = new List<string>();
        var tables = app.Services.GetRequiredService<TableServiceClient>();
        var tableNames = app.Settings.Where(s => s.Key.StartsWith("Storage:", StringComparison.Ordinal) && s.Key.EndsWith("Table", StringComparison.Ordinal)).Select(s => s.Value!).ToList();
        var entities = 0;
        foreach (var table in tableNames)
        {
            await foreach (var entity in tables.GetTableClient(table).QueryAsync<TableEntity>())
            {
                entities++;
                foreach (var (name, value) in entity)
                {
                    var text = value switch
                    {
                        byte[] bytes => Encoding.UTF8.GetString(bytes) + "\n" + Convert.ToBase64String(bytes),
                        BinaryData data => data.ToString(),
                        _ => value?.ToString() ?? string.Empty,
                    };
                    found.AddRange(secrets.Where(s => text.Contains(s.Value, StringComparison.Ordinal)).Select(s => $"{s.Key} in table {table}, {entity.PartitionKey}/{entity.RowKey}, property {name}"));
                }
            }
        }

        var queues = app.Services.GetRequiredService<QueueServiceClient>();
        var messages = 0;
        foreach (var queue in app.Settings.Where(s => s.Key.StartsWith("KooGallery", StringComparison.Ordinal) && s.Key.EndsWith("Queue", StringComparison.Ordinal)).SelectMany(s => new[] { s.Value!, s.Value + "-poison" }))
        {
            var client = queues.GetQueueClient(queue);
            if (!await client.ExistsAsync())
            {
                continue;
            }

            foreach (var message in (await client.PeekMessagesAsync(32)).Value)
            {
                messages++;
                var text = message.Body.ToString();
                found.AddRange(secrets.Where(s => text.Contains(s.Value, StringComparison.Ordinal)).Select(s => $"{s.Key} in queue {queue}, message {message.MessageId}"));
            }
        }

        Assert.True(entities > 20, $"only {entities} entities scanned");
        Assert.True(found.Count == 0, string.Join('\n', found));
    }

    private static string? FindPassword(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().Select(p => p.Name == "password" && p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : FindPassword(p.Value)).FirstOrDefault(p => p is not null),
        JsonValueKind.Array => element.EnumerateArray().Select(FindPassword).FirstOrDefault(p => p is not null),
        _ => null,
    };
}
