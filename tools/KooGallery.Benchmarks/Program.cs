using System.Diagnostics;
using System.Globalization;
using System.Text;
using Azure.Storage.Queues;
using KooGallery.Functions.Instances;
using KooGallery.Functions.Tests.Infrastructure;
using KooGallery.Simulator;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

// Callback latency of the production interface, end to end inside the worker: a real signed HttpRequest
// → ProductionInterface function class → verification, nonce, Table Storage, queue → exact signed bytes.
// Storage is Azurite (in memory, loopback). No Functions host or Kestrel in the path; they add a roughly
// constant cost not measured here. Usage: dotnet run -c Release --project tools/KooGallery.Benchmarks [-- --iterations 300]
int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
if (KooGallery.Benchmarks.Startup.IsProbe(args))
{
    return await KooGallery.Benchmarks.Startup.ProbeAsync(args);
}

if (Array.IndexOf(args, "--startup") >= 0)
{
    Console.WriteLine(await KooGallery.Benchmarks.Startup.MeasureAsync(Arg("--startup", 7)));
    return 0;
}

var iterations = Arg("--iterations", 300);
var scaleRows = Arg("--scale-rows", 100_000);
var idleInstances = Arg("--idle-instances", 10_000);
var concurrentIntakeBatches = Arg("--concurrent-intake", 1); // 0: push alone
// Azurite on loopback answers in well under a millisecond, and serves one request at a time: calls issued
// together do not finish sooner than one after the other. --storage-latency N adds N ms to every storage call
// (as the network to a storage account in the same region does), so calls that wait for each other show.
var storageLatency = Arg("--storage-latency", 0);
var storageTimeout = Arg("--storage-timeout", 0); // seconds; 0: the app's own 2 s (a 100,000-instance run needs more on Azurite)
var counter = new StorageRoundTrips { Hold = TimeSpan.FromMilliseconds(storageLatency) };
var entitiesRead = new KooGallery.Benchmarks.EntitiesRead();
await using var openApi = await OpenApiEmulator.StartAsync(new OpenApiEmulatorOptions { UsagePushKeys = [TestApp.Key] });
await using var app = await TestApp.StartAsync(
    s =>
    {
        s["Marketplace:BaseUrl"] = openApi.BaseUrl.ToString();
        s["Marketplace:AccessKey"] = "emulator-access-key";
        s["Marketplace:SecretKey"] = "emulator-secret-key-change-me";
        s["Logging:LogLevel:Default"] = "Warning";
    },
    s =>
    {
        counter.CountIn(s);
        s.Replace(ServiceDescriptor.Singleton(sp => KooGallery.Functions.Storage.StorageClients.CreateTableServiceClient(sp.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>(), [sp.GetRequiredService<KooGallery.Functions.Storage.StorageCreationPolicy>(), counter, entitiesRead, .. storageTimeout > 0 ? new Azure.Core.Pipeline.HttpPipelinePolicy[] { new KooGallery.Benchmarks.StorageTimeout(TimeSpan.FromSeconds(storageTimeout)) } : []])));
    });

var rows = new List<string>();
var run = Guid.NewGuid().ToString("N")[..6];

async Task<(TimeSpan[] Latencies, double RoundTrips)> Measure(string name, int n, Func<int, string> body, Func<CallbackReply, bool> ok)
{
    for (var i = 0; i < Math.Min(20, n); i++)
    {
        await SignedCall.SendSignedAsync(app, body(-1 - i)); // warm-up (JIT, connections)
    }

    var latencies = new TimeSpan[n];
    counter.Reset();
    for (var i = 0; i < n; i++)
    {
        var call = SignedCall.SignedRequest(app, body(i));
        var watch = Stopwatch.StartNew();
        var reply = await SignedCall.SendAsync(app, call);
        latencies[i] = watch.Elapsed;
        if (!ok(reply))
        {
            throw new InvalidOperationException($"{name}: unexpected answer {reply.Text}");
        }
    }

    var roundTrips = counter.Calls.Count / (double)n;
    rows.Add(Row(name, latencies, roundTrips).TrimEnd(' ', '|') + $" ({counter.Sequential / (double)n:F1} in sequence) |");
    return (latencies, roundTrips);
}

static string Row(string name, TimeSpan[] latencies, double roundTrips)
{
    var sorted = latencies.Select(l => l.TotalMilliseconds).Order().ToArray();
    double P(double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
    return string.Create(CultureInfo.InvariantCulture, $"| {name} | {sorted.Length} | {P(0.50):F2} | {P(0.95):F2} | {P(0.99):F2} | {sorted[^1]:F2} | {roundTrips:F1} |");
}

string NewInstance(int i) => $$"""{"activity":"newInstance","businessId":"{{Guid.NewGuid()}}","orderId":"CS-BENCH-{{run}}-{{i}}","orderLineId":"CS-BENCH-{{run}}-{{i}}-000001","testFlag":"1"}""";

await Measure("newInstance (new order)", iterations, NewInstance, r => r.ResultCode == "000000");
await Measure("newInstance (repeat of one order)", iterations, _ => NewInstance(0), r => r.ResultCode == "000000");

// Make a set of instances ready so queries and status changes run on real state.
var lifecycle = app.Services.GetRequiredService<InstanceLifecycle>();
var worker = app.Services.GetRequiredService<LifecycleWorker>();
var queue = app.Services.GetRequiredService<QueueServiceClient>().GetQueueClient(app.Settings["KooGalleryLifecycleQueue"]);
var ready = new List<string>();
for (var i = 0; i < 100; i++)
{
    var response = await lifecycle.NewInstanceAsync(new KooGallery.Protocol.Wire.NewInstanceRequest($"CS-READY-{run}-{i}", "L1", "B", null, true, null), CancellationToken.None);
    ready.Add(response.InstanceId!);
}

var payPerUse = (await lifecycle.NewInstanceAsync(new KooGallery.Protocol.Wire.NewInstanceRequest("MOCKONDEMAND", "MOCKONDEMAND-000001", "B", $"BENCH-{run}", false, null), CancellationToken.None)).InstanceId!;

while ((await queue.ReceiveMessagesAsync(32)).Value is { Length: > 0 } messages)
{
    foreach (var message in messages)
    {
        await worker.ProcessAsync(LifecycleWork.FromQueueBody(message.Body)!, 1, CancellationToken.None);
        await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
    }
}

await Measure("queryInstance (1 id)", iterations, i => $$"""{"activity":"queryInstance","instanceId":"{{ready[Math.Abs(i) % ready.Count]}}","testFlag":"1"}""", r => r.ResultCode == "000000");
await Measure("queryInstance (100 ids)", Math.Max(50, iterations / 3), _ => $$"""{"activity":"queryInstance","instanceId":"{{string.Join(',', ready)}}","testFlag":"1"}""", r => r.ResultCode == "000000");
await Measure("updateInstanceStatus (freeze/unfreeze)", iterations, i => $$"""{"activity":"updateInstanceStatus","instanceId":"{{ready[0]}}","status":"{{(i % 2 == 0 ? "FREEZE" : "UNFREEZE")}}","testFlag":"1"}""", r => r.ResultCode == "000000");
await Measure("rejected after verification (body not JSON)", iterations, _ => "not json", r => r.ResultCode == "000002");

// Usage metering: intake of 100-record batches (each record into its own hour), and push runs of 1000 rows.
var intake = app.Services.GetRequiredService<KooGallery.Functions.Metering.UsageIntake>();
var pushJob = app.Services.GetRequiredService<KooGallery.Functions.Metering.UsagePushJob>();
var usageStart = app.Clock.GetUtcNow().AddDays(-5);
usageStart = new DateTimeOffset(usageStart.Year, usageStart.Month, usageStart.Day, usageStart.Hour, 0, 0, TimeSpan.Zero);
var intakeTimes = new TimeSpan[20];
var hourIndex = 0;
for (var call = 0; call < intakeTimes.Length; call++)
{
    var records = Enumerable.Range(0, 100).Select(r =>
    {
        var begin = usageStart.AddHours(r).AddMinutes(call);
        return new KooGallery.Functions.Metering.UsageRecordInput(r, payPerUse, "1.25", begin, begin.AddSeconds(30), Guid.NewGuid().ToString(), null, null);
    }).ToList();
    hourIndex = 100;
    counter.Reset();
    var watch = Stopwatch.StartNew();
    var result = await intake.AcceptAsync(records, CancellationToken.None);
    intakeTimes[call] = watch.Elapsed;
    if (result.Outcomes.Any(o => o.Status != "accepted"))
    {
        throw new InvalidOperationException("usage intake refused a record: " + result.Outcomes.First(o => o.Status != "accepted").Error);
    }
}

rows.Add(Row("usage intake (100 records per call)", intakeTimes, counter.Calls.Count / 100.0).Replace("| usage intake (100 records per call) |", "| usage intake, 100 records of 100 hours per call (round trips per record) |", StringComparison.Ordinal));

// The common case: a tenant flushing many records of one hour — one read and one transaction per 99 records.
var sameHourTimes = new TimeSpan[20];
for (var call = 0; call < sameHourTimes.Length; call++)
{
    var begin = usageStart.AddHours(100 + call);
    var records = Enumerable.Range(0, 100).Select(r => new KooGallery.Functions.Metering.UsageRecordInput(r, payPerUse, "0.5", begin.AddSeconds(r), begin.AddSeconds(r + 1), null, null, null)).ToList();
    counter.Reset();
    var watch = Stopwatch.StartNew();
    var result = await intake.AcceptAsync(records, CancellationToken.None);
    sameHourTimes[call] = watch.Elapsed;
    if (result.Outcomes.Any(o => o.Status != "accepted"))
    {
        throw new InvalidOperationException("usage intake refused a record: " + result.Outcomes.First(o => o.Status != "accepted").Error);
    }
}

rows.Add(Row("usage intake, 100 records of one hour per call (round trips per record)", sameHourTimes, counter.Calls.Count / 100.0));
var pushTimes = new List<TimeSpan>();
for (var run2 = 0; run2 < 2; run2++)
{
    var watch = Stopwatch.StartNew();
    var summary = await pushJob.RunAsync(CancellationToken.None);
    pushTimes.Add(watch.Elapsed);
    if (summary.Pushed == 0 && run2 == 0)
    {
        throw new InvalidOperationException("the push run sent nothing");
    }
}

var pushLine = string.Create(CultureInfo.InvariantCulture, $"Usage push: {hourIndex + sameHourTimes.Length} rows in {pushTimes[0].TotalSeconds:F2} s (lease their hours, signed batches to the emulator, mark sent); a run with nothing to send: {pushTimes[1].TotalMilliseconds:F0} ms.");

// Scale: N due usage rows pushed in one run through the emulator; then, with those N rows sent and M idle
// instances present, what one push run with nothing due and one sweep read.
var store = app.Services.GetRequiredService<KooGallery.Functions.Metering.UsageStore>();
var sweeper = app.Services.GetRequiredService<LifecycleSweeper>();
var repository = app.Services.GetRequiredService<InstanceRepository>();
await pushJob.RunAsync(CancellationToken.None); // nothing left from the intake section
var scaleHours = Arg("--scale-hours", 10); // --scale-rows 100000 --scale-hours 1: 100,000 usage rows in one hour
var scaleStart = app.Clock.GetUtcNow().AddHours(-(scaleHours + 2));
scaleStart = new DateTimeOffset(scaleStart.Year, scaleStart.Month, scaleStart.Day, scaleStart.Hour, 0, 0, TimeSpan.Zero);
var seedWatch = Stopwatch.StartNew();
await store.AddRowsAsync(
    from i in Enumerable.Range(0, scaleRows / scaleHours)
    from h in Enumerable.Range(0, scaleHours)
    let start = scaleStart.AddHours(h)
    select new KooGallery.Functions.Metering.UsageRowEntity
    {
        PartitionKey = KooGallery.Functions.Metering.UsageRowEntity.PartitionFor(start.AddHours(1)),
        RowKey = KooGallery.Functions.Metering.UsageRowEntity.RowKeyFor($"scale-{run}-{i}", start, null, 0),
        InstanceId = $"scale-{run}-{i}",
        PeriodStart = start,
        PeriodEnd = start.AddHours(1),
        UsageValue = "2.5",
        RecordCount = 1,
        MeteringSn = KooGallery.Functions.Metering.UsageRowEntity.MeteringSnFor($"scale-{run}-{i}", start, null, 0),
        CreatedAt = start,
    },
    CancellationToken.None);
seedWatch.Stop();
var pushesBefore = openApi.UsagePushes.Count;

// Intake keeps running while the push runs: batches of 50 late records into the very hours being pushed, as a
// busy SaaS would send them. Afterwards every unit it accepted must reach KooGallery (the conservation rule).
var concurrentPackage = $"bench-concurrent-{run}";
using var stopIntake = new CancellationTokenSource();
var concurrentAccepted = 0m;
var concurrentRecords = 0;
var concurrentCalls = 0;
var concurrentIntake = Task.Run(async () =>
{
    for (var k = 0; concurrentIntakeBatches > 0 && !stopIntake.IsCancellationRequested; k++)
    {
        var hour = scaleStart.AddHours(k % scaleHours);
        var records = Enumerable.Range(0, 50).Select(r =>
        {
            var begin = hour.AddSeconds(((k / scaleHours) * 50 + r) % 3540);
            return new KooGallery.Functions.Metering.UsageRecordInput(r, payPerUse, "0.75", begin, begin.AddSeconds(30), $"conc-{run}-{k}-{r}", concurrentPackage, null);
        }).ToList();
        var result = await intake.AcceptAsync(records, CancellationToken.None);
        concurrentAccepted += 0.75m * result.Count(KooGallery.Functions.Metering.UsageRecordOutcome.Accepted);
        concurrentRecords += result.Count(KooGallery.Functions.Metering.UsageRecordOutcome.Accepted);
        concurrentCalls++;
    }
});
var scaleWatch = Stopwatch.StartNew();
var scalePush = await pushJob.RunAsync(CancellationToken.None);
scaleWatch.Stop();
await stopIntake.CancelAsync();
await concurrentIntake;
if (scalePush.Pushed < scaleRows || openApi.UsagePushes.Skip(pushesBefore).SelectMany(p => p.Records).Count(r => r["relate_pkg_instance"] is null) != scaleRows)
{
    throw new InvalidOperationException($"the scale push sent {scalePush.Pushed} rows for {scaleRows} seeded");
}

app.Clock.Advance(TimeSpan.FromMinutes(3)); // past the settle time of the hours intake touched
await pushJob.RunAsync(CancellationToken.None);
var concurrentKept = openApi.KeptUsage().Values
    .Where(r => r["relate_pkg_instance"]?.GetValue<string>() == concurrentPackage)
    .Sum(r => decimal.Parse(r["usage_value"]!.GetValue<string>(), CultureInfo.InvariantCulture));
if (concurrentKept != concurrentAccepted)
{
    throw new InvalidOperationException($"usage accepted during the push: {concurrentAccepted}; KooGallery kept {concurrentKept}");
}

var idleWatch = Stopwatch.StartNew();
var idleSeeded = 0;
await Parallel.ForEachAsync(Enumerable.Range(0, idleInstances), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
{
    var id = $"kgidle{run}{i:D6}";
    var now = app.Clock.GetUtcNow();

    // Azurite, one core holding everything in memory, times out now and then at this volume: seeding is idempotent, so try again.
    for (var attempt = 1; ; attempt++)
    {
        try
        {
            await repository.TryCreateAsync(
                new InstanceEntity { InstanceId = id, OrderId = $"CS-IDLE-{i}", CustomerId = $"CUST-IDLE-{run}-{i % 1000}", State = nameof(InstanceState.Ready), ChargingMode = "PERIOD", FrontEndUrl = "https://idle.example.com/", CreatedAt = now, UpdatedAt = now, ReadyAt = now },
                repository.Event("callback", "newInstance", $"CS-IDLE-{i}", null, InstanceState.Ready, "seeded idle instance"),
                ct);
            if (Interlocked.Increment(ref idleSeeded) % 10_000 == 0)
            {
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"seeded {idleSeeded} idle instances in {idleWatch.Elapsed.TotalSeconds:F0} s"));
            }

            break;
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or AggregateException && attempt < 5)
        {
            await Task.Delay(TimeSpan.FromSeconds(attempt), ct);
        }
    }
});
idleWatch.Stop();

app.Clock.Advance(TimeSpan.FromHours(1)); // past the settle time, and every index entry of the earlier sections
await pushJob.RunAsync(CancellationToken.None); // closes the hours just sent (reads one ledger row per hour)
await sweeper.SweepAsync(CancellationToken.None); // forgets the instances of the earlier sections
var idlePushWatch = Stopwatch.StartNew();
var idlePush = await pushJob.RunAsync(CancellationToken.None);
idlePushWatch.Stop();
var idleSweepWatch = Stopwatch.StartNew();
var idleSweep = await sweeper.SweepAsync(CancellationToken.None);
idleSweepWatch.Stop();

// The console overview's usage figures: the 24 hours' ledger rows and push-run rows, whatever the volume.
var overviewNow = app.Clock.GetUtcNow();
var overviewUsageEntities = (await store.HoursAsync(overviewNow.AddHours(-23), overviewNow, CancellationToken.None)).Count
    + (await store.HourRunsAsync(overviewNow.AddHours(-23), overviewNow, CancellationToken.None)).Count;

// The console: an overview load and a find by order and by customer, in entities read, with all of the above present.
var operatorConsole = app.Services.GetRequiredService<KooGallery.Functions.Operations.OperatorConsole>();
await app.Services.GetRequiredService<InstanceStateCounts>().FlushAsync(CancellationToken.None);
entitiesRead.Reset();
await operatorConsole.OverviewAsync(CancellationToken.None);
var overviewEntities = entitiesRead.Count;
Console.Error.WriteLine($"console overview: {overviewEntities} entities read");
entitiesRead.Reset();
await operatorConsole.FindAsync($"CS-IDLE-{idleInstances / 2}", CancellationToken.None);
var findOrderEntities = entitiesRead.Count;
Console.Error.WriteLine($"find by order: {findOrderEntities} entities read");
entitiesRead.Reset();
await operatorConsole.FindAsync($"CUST-IDLE-{run}-7", CancellationToken.None);
var findCustomerEntities = entitiesRead.Count;
Console.Error.WriteLine($"find by customer: {findCustomerEntities} entities read");

// What the scans these replaced would have read: every usage row, every entity of the instance table.
var tables = app.Services.GetRequiredService<Azure.Data.Tables.TableServiceClient>();
var usageEntities = await tables.GetTableClient(app.Settings["Storage:UsageTable"]).QueryAsync<Azure.Data.Tables.TableEntity>(select: ["PartitionKey"]).CountAsync();
var instanceEntities = await tables.GetTableClient(app.Settings["Storage:InstanceTable"]).QueryAsync<Azure.Data.Tables.TableEntity>(select: ["PartitionKey"]).CountAsync();
var scaleLines = new[]
{
    string.Create(CultureInfo.InvariantCulture, $"Usage push at scale: {scaleRows} due rows ({scaleRows / scaleHours} instances x {scaleHours} hours, seeded in {seedWatch.Elapsed.TotalSeconds:F1} s) pushed in one run in {scaleWatch.Elapsed.TotalSeconds:F1} s: {scalePush.Batches} signed batches of 1000 to the emulator, {scalePush.EntitiesRead} entities read. Meanwhile intake took {concurrentCalls} calls of 50 late records into those hours ({concurrentRecords} accepted, {concurrentAccepted} units); after one more run KooGallery kept exactly {concurrentKept} units of them."),
    string.Create(CultureInfo.InvariantCulture, $"With {usageEntities} usage entities (rows and markers) and {instanceEntities} instance-table entities ({idleInstances} idle instances seeded in {idleWatch.Elapsed.TotalSeconds:F1} s) present: a push run with nothing due read {idlePush.EntitiesRead} entities in {idlePushWatch.Elapsed.TotalMilliseconds:F0} ms; a sweep read {idleSweep.EntitiesRead} entities ({idleSweep.EntriesDue} index entries due) in {idleSweepWatch.Elapsed.TotalMilliseconds:F0} ms. The full-table scans they replace would read {usageEntities} and {instanceEntities}. The console overview's usage figures read {overviewUsageEntities} entities (hour ledger and push-run rows of 24 hours)."),
    string.Create(CultureInfo.InvariantCulture, $"The console with all of that present: an overview load read {overviewEntities} entities; a find by order {findOrderEntities} (the order's index row, its instance, its event log); a find by customer ({Math.Max(1, idleInstances / 1000)} instances) {findCustomerEntities}."),
};

// Throughput: 16 concurrent callers.
const int concurrency = 16;
var total = iterations * 2;
var next = -1;
var all = new TimeSpan[total];
var wall = Stopwatch.StartNew();
await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
{
    int i;
    while ((i = Interlocked.Increment(ref next)) < total)
    {
        var call = SignedCall.SignedRequest(app, NewInstance(100_000 + i));
        var watch = Stopwatch.StartNew();
        var reply = await SignedCall.SendAsync(app, call);
        all[i] = watch.Elapsed;
        if (reply.ResultCode != "000000")
        {
            throw new InvalidOperationException(reply.Text);
        }
    }
}));
wall.Stop();
rows.Add(Row($"newInstance, {concurrency} concurrent", all, double.NaN).Replace("| NaN |", "| – |", StringComparison.Ordinal));

var output = new StringBuilder()
    .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}; Azurite in memory on loopback{(storageLatency > 0 ? $", {storageLatency} ms added to every storage call" : string.Empty)}.")
    .AppendLine(CultureInfo.InvariantCulture, $"Throughput with {concurrency} concurrent callers: {total / wall.Elapsed.TotalSeconds:F0} newInstance/s.")
    .AppendLine(pushLine)
    .AppendLine(scaleLines[0])
    .AppendLine(scaleLines[1])
    .AppendLine(scaleLines[2])
    .AppendLine()
    .AppendLine("| callback | n | p50 ms | p95 ms | p99 ms | max ms | storage round trips |")
    .AppendLine("|---|---|---|---|---|---|---|");
rows.ForEach(r => output.AppendLine(r));
Console.WriteLine(output);
return 0;
