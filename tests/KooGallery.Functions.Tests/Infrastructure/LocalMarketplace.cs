using System.Text.Json;
using Azure.Storage.Queues;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Provisioning;
using KooGallery.Simulator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>
/// A whole local marketplace for life-cycle tests: the real app (its DI, Azurite storage, the real lifecycle
/// queue), KooGallery's open-API emulator, optionally a fake tenant API. Queue work is run by calling the
/// queue-trigger function class on messages received from the real queue, as the host would: a failure
/// makes the message visible again, and after <c>maxDequeueCount</c> (host.json: 5) it moves to the poison
/// queue, whose trigger is then run too.
/// </summary>
public sealed class LocalMarketplace : IAsyncDisposable
{
    public const int MaxDequeueCount = 5;
    public const string TenantSecret = "tenant-webhook-secret-for-tests-0123456789";

    private LocalMarketplace(TestApp app, OpenApiEmulator openApi, FakeTenantApi? tenantApi)
    {
        App = app;
        OpenApi = openApi;
        TenantApi = tenantApi;
    }

    public TestApp App { get; }

    public OpenApiEmulator OpenApi { get; }

    public FakeTenantApi? TenantApi { get; }

    public QueueClient WorkQueue => App.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(App.Settings["KooGalleryLifecycleQueue"]);

    public FastForwardWorkSender Sender => (FastForwardWorkSender)App.Services.GetRequiredService<LifecycleWorkSender>();

    public QueueClient PoisonQueue => App.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(App.Settings["KooGalleryLifecycleQueue"] + "-poison");

    public static async Task<LocalMarketplace> StartAsync(
        Action<Dictionary<string, string?>>? configure = null,
        bool webhookTenants = false,
        OpenApiEmulatorOptions? openApiOptions = null,
        Action<IServiceCollection>? services = null)
    {
        // One clock for the app and KooGallery's emulator, so tests can move time by hours and signatures still agree.
        var clock = TestApp.NewClock();
        openApiOptions ??= new OpenApiEmulatorOptions { UsagePushKeys = [TestApp.Key] };
        openApiOptions.Time = clock;
        var openApi = await OpenApiEmulator.StartAsync(openApiOptions);
        var tenantApi = webhookTenants ? await FakeTenantApi.StartAsync(TenantSecret) : null;
        var app = await TestApp.StartAsync(s =>
        {
            s["Marketplace:BaseUrl"] = openApi.BaseUrl.ToString();
            s["Marketplace:AccessKey"] = "emulator-access-key";
            s["Marketplace:SecretKey"] = "emulator-secret-key-change-me";
            s["OutboundHttp:MaxRetries"] = "1";
            if (tenantApi is not null)
            {
                s["Provisioning:Mode"] = "Webhook";
                s["Provisioning:Webhook:BaseUrl"] = tenantApi.BaseUrl.ToString();
                s["Provisioning:Webhook:Secret"] = TenantSecret;
            }

            configure?.Invoke(s);
        }, s =>
        {
            s.Replace(ServiceDescriptor.Singleton<LifecycleWorkSender>(sp => new FastForwardWorkSender(
                sp.GetRequiredService<QueueServiceClient>(), sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<Configuration.StorageOptions>>(), clock)));
            services?.Invoke(s);
        }, clock: clock);
        return new LocalMarketplace(app, openApi, tenantApi);
    }

    /// <summary>Sends one signed V2 call; <paramref name="fields"/> become the body with keys sorted, as KooGallery sends it.</summary>
    public Task<CallbackReply> CallAsync(string activity, object fields)
    {
        var body = new SortedDictionary<string, object?>(StringComparer.Ordinal) { ["activity"] = activity };
        foreach (var property in JsonSerializer.SerializeToElement(fields).EnumerateObject())
        {
            body[property.Name] = property.Value;
        }

        return SignedCall.SendSignedAsync(App, JsonSerializer.Serialize(body));
    }

    public async Task<string> NewInstanceAsync(string orderId, string? orderLineId = null, bool test = true, string? productId = null)
    {
        var reply = await CallAsync("newInstance", new Dictionary<string, string?>
        {
            ["businessId"] = Guid.NewGuid().ToString(),
            ["orderId"] = orderId,
            ["orderLineId"] = orderLineId ?? orderId + "-000001",
            ["productId"] = productId,
            ["testFlag"] = test ? "1" : "0",
        }.Where(kv => kv.Value is not null).ToDictionary());
        Assert.True(reply.ResultCode == "000000", reply.Text);
        return JsonDocument.Parse(reply.Body).RootElement.GetProperty("instanceId").GetString()!;
    }

    public Task<InstanceEntity?> InstanceAsync(string instanceId) => App.Services.GetRequiredService<InstanceRepository>().GetAsync(instanceId, CancellationToken.None);

    public async Task<int> QueuedAsync(QueueClient? queue = null) =>
        (await (queue ?? WorkQueue).GetPropertiesAsync()).Value.ApproximateMessagesCount;

    /// <summary>
    /// Runs queued work until both queues are empty; returns how many messages were handled.
    /// <paramref name="betweenRounds"/> runs after each batch (e.g. to ask queryInstance while retries go on).
    /// </summary>
    public async Task<int> DrainAsync(int maxRounds = 100, Func<Task>? betweenRounds = null)
    {
        var handled = 0;
        for (var round = 0; round < maxRounds; round++)
        {
            if (betweenRounds is not null && round > 0)
            {
                await betweenRounds();
            }

            var messages = (await WorkQueue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(30))).Value;
            if (messages.Length == 0)
            {
                var poisoned = (await PoisonQueue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(30))).Value;
                if (poisoned.Length == 0)
                {
                    return handled;
                }

                foreach (var message in poisoned)
                {
                    await App.Function<FailPoisonedLifecycleWork>().Run(message, CancellationToken.None);
                    await PoisonQueue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                    handled++;
                }

                continue;
            }

            foreach (var message in messages)
            {
                handled++;
                try
                {
                    await App.Function<ProcessLifecycleWork>().Run(message, CancellationToken.None);
                    await WorkQueue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                }
                catch (Exception) when (message.DequeueCount >= MaxDequeueCount)
                {
                    await PoisonQueue.SendMessageAsync(message.Body);
                    await WorkQueue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
                }
                catch (Exception)
                {
                    await WorkQueue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero);
                }
            }
        }

        throw new InvalidOperationException("The lifecycle queue did not drain.");
    }

    /// <summary>Plays the Functions host's queue triggers in the background until disposed.</summary>
    public IAsyncDisposable RunQueueWorker() => new BackgroundDrain(this);

    private sealed class BackgroundDrain : IAsyncDisposable
    {
        private readonly CancellationTokenSource stop = new();
        private readonly Task loop;

        public BackgroundDrain(LocalMarketplace market) => loop = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await market.DrainAsync();
                await Task.Delay(50);
            }
        });

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await loop;
            stop.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        await OpenApi.DisposeAsync();
        if (TenantApi is not null)
        {
            await TenantApi.DisposeAsync();
        }
    }
}
