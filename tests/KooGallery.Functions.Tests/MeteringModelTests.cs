using System.Globalization;
using System.Text;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using CsCheck;
using KooGallery.Functions.Metering;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using static KooGallery.Functions.Tests.Infrastructure.UsagePosts;

namespace KooGallery.Functions.Tests;

/// <summary>
/// The conservation law of metering, checked against a model: random interleavings of intake (new batches, with
/// and without record ids, whole, subset and reordered resends, late records for past hours), push runs (some with
/// intake landing while the push is in flight), KooGallery faults (5xx, a push recorded and then never answered,
/// dropped connections, refusals of the whole request, refusals of chosen rows), and storage faults on any call —
/// failing before it, failing after it committed, or the worker dying there (every later call fails). After
/// quiescence (faults off, the client resends what was not answered, an operator re-drives refused rows), for
/// every instance, package and period: the first value per <c>metering_sn</c> that KooGallery kept sums to exactly
/// the usage of the distinct records the app accepted, and every row KooGallery refused had been kept as rejected
/// with its reason. A failing schedule is shrunk and printed as a list of steps.
/// </summary>
public class MeteringModelTests(ITestOutputHelper output)
{
    /// <summary>Seconds of random schedules per CI run; set KOOGALLERY_MODEL_SECONDS for a longer hunt.</summary>
    private static int Seconds => LongerHunt.Seconds(40);

    [Fact]
    public async Task What_koogallery_keeps_equals_what_the_app_accepted_under_any_interleaving_of_intake_push_and_faults()
    {
        var faults = new ScheduledStorageFault();
        // The open-API circuit breaker breaks on real time: short, so quiescence can wait it out.
        await using var market = await LocalMarketplace.StartAsync(s => s["OutboundHttp:BreakerDuration"] = "00:00:00.200", services: faults.FailIn);
        string[] instances =
        [
            await market.NewInstanceAsync("MOCKONDEMAND", orderLineId: "MOCKONDEMAND-000001", productId: "OFFI-MODEL", test: false),
            await market.NewInstanceAsync("MOCKONDEMANDPKG", orderLineId: "MOCKONDEMANDPKG-000001", productId: "OFFI-MODEL", test: false),
        ];
        await market.DrainAsync();
        var world = new World(market, faults, instances, output.WriteLine);
        var samples = 0;

        await Schedule.Generator.SampleAsync(
            async schedule =>
            {
                Interlocked.Increment(ref samples);
                await world.PlayAsync(schedule);
            },
            writeLine: output.WriteLine,
            time: Seconds,
            threads: 1,
            print: s => s.ToString());

        output.WriteLine($"{samples} schedules played.");
        Assert.True(samples >= 5, $"only {samples} schedules ran in {Seconds} s");
    }

    /// <summary>One record as the client first wrote it; a resend sends exactly this again.</summary>
    internal sealed record Draft(int Instance, int Package, int HoursBack, int Minute, int Cents, bool WithId)
    {
        public override string ToString() => $"i{Instance}/p{Package} -{HoursBack}h:{Minute:D2} {Cents / 100m}{(WithId ? " id" : string.Empty)}";
    }

    internal enum KooGalleryFault { None, ServerErrors, RecordedNotAnswered, RecordedThenRetried, Dropped, RefusedRequestOnce, RefusedRequestThrice, GatewayRefusal, RefuseInstance0 }

    internal enum StorageFault { None, FailBefore, FailAfterCommit, Die }

    internal abstract record Step
    {
        public StorageFault Storage { get; init; }

        public int At { get; init; }

        protected string Fault => Storage == StorageFault.None ? string.Empty : $" [storage {Storage} at call {At}]";
    }

    internal sealed record Post(Draft[] Records) : Step
    {
        public override string ToString() => $"post [{string.Join(", ", Records.AsEnumerable())}]{Fault}";
    }

    internal sealed record Resend(int Batch, int Mask, bool Reverse) : Step
    {
        public override string ToString() => $"resend batch {Batch} mask {Mask:b}{(Reverse ? " reversed" : string.Empty)}{Fault}";
    }

    internal sealed record Push(KooGalleryFault KooGallery, Draft[]? DuringPush) : Step
    {
        public override string ToString() => $"push ({KooGallery}){(DuringPush is null ? string.Empty : $" while posting [{string.Join(", ", DuringPush.AsEnumerable())}]")}{Fault}";
    }

    internal sealed record Wait(int Minutes) : Step
    {
        public override string ToString() => $"wait {Minutes} min";
    }

    internal sealed record Schedule(Step[] Steps)
    {
        private static readonly Gen<Draft> Draft = Gen.Select(Gen.Int[0, 1], Gen.Int[0, 1], Gen.Int[0, 3], Gen.Int[0, 59], Gen.Int[1, 500_000], Gen.Bool)
            .Select((i, p, h, m, c, id) => new Draft(i, p, h, m, c, id));

        private static readonly Gen<Draft[]> Batch = Draft.Array[1, 6];

        private static readonly Gen<(StorageFault, int)> StorageFaults = Gen.Frequency(
            (6, Gen.Const((StorageFault.None, 0))),
            (3, Gen.Select(Gen.Enum<StorageFault>(), Gen.Int[0, 12])));

        private static readonly Gen<Step> AnyStep = Gen.Frequency(
            (4, Gen.Select(Batch, StorageFaults).Select((b, f) => (Step)new Post(b) { Storage = f.Item1, At = f.Item2 })),
            (2, Gen.Select(Gen.Int[0, 8], Gen.Int[0, 63], Gen.Bool, StorageFaults).Select((b, m, r, f) => (Step)new Resend(b, m, r) { Storage = f.Item1, At = f.Item2 })),
            (4, Gen.Select(Gen.Enum<KooGalleryFault>(), Gen.Frequency((3, Gen.Const((Draft[]?)null)), (1, Batch.Select(b => (Draft[]?)b))), StorageFaults)
                .Select((k, during, f) => (Step)new Push(k, during) { Storage = f.Item1, At = f.Item2 })),
            (2, Gen.Int[0, 75].Select(m => (Step)new Wait(m))));

        public static readonly Gen<Schedule> Generator = AnyStep.Array[1, 14].Select(s => new Schedule(s));

        public override string ToString() => "\n  " + string.Join("\n  ", Steps.Select((s, i) => $"{i}: {s}"));
    }

    /// <summary>The app, KooGallery's emulator, and the client's memory of what it sent.</summary>
    private sealed class World(LocalMarketplace market, ScheduledStorageFault storage, string[] instances, Action<string> log)
    {
        private int played;

        public async Task PlayAsync(Schedule schedule)
        {
            var run = Interlocked.Increment(ref played);
            var packages = new[] { $"m{run}-a", $"m{run}-b" };
            var batches = new List<object[]>();
            var expected = new Dictionary<string, (string Instance, string Package, DateTimeOffset Period, decimal Value)>(StringComparer.Ordinal);
            var now = () => market.App.Clock.GetUtcNow();

            object[] Materialize(Draft[] drafts)
            {
                var records = new object[drafts.Length];
                for (var i = 0; i < drafts.Length; i++)
                {
                    var d = drafts[i];
                    var at = now();
                    var hour = UsagePeriods.HourOf(at).AddHours(-d.HoursBack);
                    var begin = hour.AddMinutes(d.Minute);
                    if (begin.AddMinutes(1) > at)
                    {
                        begin = UsagePeriods.HourOf(at) == UsagePeriods.HourOf(at.AddMinutes(-2)) ? at.AddMinutes(-2) : hour.AddHours(-1);
                    }

                    var value = (d.Cents / 100m).ToString(CultureInfo.InvariantCulture);
                    var identity = string.Join('|', instances[d.Instance], packages[d.Package], begin.ToUnixTimeSeconds(), value);
                    var id = d.WithId ? "id-" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..16] : null;
                    expected[(id ?? "auto") + "|" + identity] = (instances[d.Instance], packages[d.Package], UsagePeriods.HourOf(begin), d.Cents / 100m);
                    records[i] = Record(instances[d.Instance], begin, value, id, minutes: 1, package: packages[d.Package]);
                }

                batches.Add(records);
                return records;
            }

            async Task Guarded(Step step, Func<Task> action)
            {
                storage.Arm(step.Storage, step.At);
                try
                {
                    await action();
                }
                catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
                {
                    // The function failed, as it would under the host: the client and the next run pick up after it.
                }
                finally
                {
                    storage.Disarm();
                }
            }

            foreach (var step in schedule.Steps)
            {
                switch (step)
                {
                    case Post post:
                        await Guarded(step, () => PostAsync(market.App, Materialize(post.Records)));
                        break;
                    case Resend resend when batches.Count > 0:
                        var batch = batches[resend.Batch % batches.Count];
                        var subset = batch.Where((_, i) => resend.Mask == 0 || (resend.Mask & (1 << i)) != 0).ToArray();
                        await Guarded(step, () => PostAsync(market.App, resend.Reverse ? [.. subset.Reverse()] : subset));
                        break;
                    case Push push:
                        Inject(push.KooGallery, instances);
                        if (push.DuringPush is { } during)
                        {
                            var records = Materialize(during);
                            var once = 0;
                            market.OpenApi.WhileUsagePushInFlight = async () =>
                            {
                                if (Interlocked.Increment(ref once) == 1)
                                {
                                    await PostAsync(market.App, records);
                                }
                            };
                        }

                        await Guarded(step, () => market.App.Services.GetRequiredService<UsagePushJob>().RunAsync(CancellationToken.None));
                        market.OpenApi.WhileUsagePushInFlight = null;
                        market.OpenApi.Faults.Clear();
                        market.OpenApi.RefusedUsageInstances.Clear();
                        break;
                    case Wait wait:
                        market.App.Clock.Advance(TimeSpan.FromMinutes(wait.Minutes));
                        break;
                }
            }

            await QuiesceAsync(batches, packages);
            Check(expected, packages);
        }

        private async Task QuiesceAsync(List<object[]> batches, string[] packages)
        {
            // The client resends every batch until each record is answered accepted or duplicate.
            foreach (var batch in batches)
            {
                var (status, body) = await PostAsync(market.App, batch);
                Assert.Equal(200, status);
                Assert.All(Statuses(body), s => Assert.Contains(s, new[] { "accepted", "duplicate" }));
            }

            // Every period has ended, every lease of a dead run has expired, every hour has settled, the breaker has closed.
            market.App.Clock.Advance(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(11));
            await Task.Delay(TimeSpan.FromMilliseconds(250));
            var job = market.App.Services.GetRequiredService<UsagePushJob>();
            log($"quiescence run 1: {await job.RunAsync(CancellationToken.None)}");

            // A row is rejected only because KooGallery refused it, and keeps its answer; an operator re-drives them.
            var store = market.App.Services.GetRequiredService<UsageStore>();
            foreach (var rejected in (await store.RejectedAsync(CancellationToken.None)).Where(r => packages.Contains(r.RelatePackageInstance)))
            {
                Assert.False(string.IsNullOrEmpty(rejected.ResultCode));
                Assert.Contains(rejected.MeteringSn, market.OpenApi.RefusedUsageSerials);
            }

            await market.App.Services.GetRequiredService<RejectedUsageRedrive>().RedriveAsync(null, null, "model", CancellationToken.None);
            log($"quiescence run 2: {await job.RunAsync(CancellationToken.None)}");
            log($"quiescence run 3: {await job.RunAsync(CancellationToken.None)}");
        }

        private void Check(Dictionary<string, (string Instance, string Package, DateTimeOffset Period, decimal Value)> expected, string[] packages)
        {
            var accepted = expected.Values
                .GroupBy(e => $"{e.Instance} {e.Package} {e.Period.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}")
                .ToDictionary(g => g.Key, g => g.Sum(e => e.Value), StringComparer.Ordinal);
            var kept = market.OpenApi.KeptUsage().Values
                .Where(r => r["relate_pkg_instance"]?.GetValue<string>() is { } p && packages.Contains(p))
                .GroupBy(r => $"{r["instance_id"]!.GetValue<string>()} {r["relate_pkg_instance"]!.GetValue<string>()} {r["begin_time"]!.GetValue<string>()}")
                .ToDictionary(g => g.Key, g => g.Sum(r => decimal.Parse(r["usage_value"]!.GetValue<string>(), CultureInfo.InvariantCulture)), StringComparer.Ordinal);

            var differences = accepted.Keys.Union(kept.Keys)
                .Where(k => accepted.GetValueOrDefault(k) != kept.GetValueOrDefault(k))
                .Select(k => $"{k}: accepted {accepted.GetValueOrDefault(k)}, KooGallery kept {kept.GetValueOrDefault(k)}")
                .ToList();
            Assert.True(differences.Count == 0, "usage not conserved:\n" + string.Join('\n', differences));
        }

        private void Inject(KooGalleryFault fault, string[] ids)
        {
            var plan = market.OpenApi.Faults;
            switch (fault)
            {
                case KooGalleryFault.ServerErrors: plan.Enqueue(new Fault.ServerError(503), 2); break;
                case KooGalleryFault.RecordedNotAnswered: plan.Enqueue(new Fault.RecordThenDrop(), 2); break;
                case KooGalleryFault.RecordedThenRetried: plan.Enqueue(new Fault.RecordThenDrop()); break;
                case KooGalleryFault.Dropped: plan.Enqueue(new Fault.DropConnection(), 2); break;
                case KooGalleryFault.RefusedRequestOnce: plan.Enqueue(new Fault.BusinessError()); break;
                case KooGalleryFault.RefusedRequestThrice: plan.Enqueue(new Fault.BusinessError(), 3); break;
                case KooGalleryFault.GatewayRefusal: plan.Enqueue(new Fault.ServerError(401)); break;
                case KooGalleryFault.RefuseInstance0: market.OpenApi.RefusedUsageInstances[ids[0]] = true; break;
            }
        }
    }
}

/// <summary>
/// A storage fault at the n-th call of one step: the call fails before reaching storage, or fails after storage
/// committed it (the answer is lost), or the worker dies there (that call and every later one fail).
/// </summary>
internal sealed class ScheduledStorageFault : HttpPipelinePolicy
{
    private readonly Lock gate = new();
    private MeteringModelTests.StorageFault kind;
    private int countdown = -1;
    private bool dead;

    public void FailIn(IServiceCollection services) => StorageRoundTrips.WithPolicy(services, this);

    public void Arm(MeteringModelTests.StorageFault fault, int at)
    {
        lock (gate)
        {
            kind = fault;
            countdown = fault == MeteringModelTests.StorageFault.None ? -1 : at;
            dead = false;
        }
    }

    public void Disarm() => Arm(MeteringModelTests.StorageFault.None, 0);

    public override void Process(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline) =>
        ProcessAsync(message, pipeline).AsTask().GetAwaiter().GetResult();

    public override async ValueTask ProcessAsync(HttpMessage message, ReadOnlyMemory<HttpPipelinePolicy> pipeline)
    {
        var failAfter = false;
        lock (gate)
        {
            if (dead)
            {
                throw Failure();
            }

            if (countdown == 0)
            {
                countdown = -1;
                switch (kind)
                {
                    case MeteringModelTests.StorageFault.FailBefore:
                        throw Failure();
                    case MeteringModelTests.StorageFault.Die:
                        dead = true;
                        throw Failure();
                    case MeteringModelTests.StorageFault.FailAfterCommit:
                        failAfter = true;
                        break;
                }
            }
            else if (countdown > 0)
            {
                countdown--;
            }
        }

        await ProcessNextAsync(message, pipeline);
        if (failAfter)
        {
            throw Failure();
        }
    }

    private static RequestFailedException Failure() => new(503, "storage fault (model test)", "ServerBusy", null);
}
