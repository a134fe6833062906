using System.Diagnostics;
using System.Text.RegularExpressions;

namespace KooGallery.Functions.Tests.Infrastructure;

/// <summary>
/// Real local Azure Storage for the tests: one Azurite process per test run, started from the repository's
/// own npm install (package.json pins it), in memory, on free ports it reports itself. Set
/// KOOGALLERY_TEST_STORAGE to a connection string to use another storage account instead.
/// </summary>
public sealed partial class Azurite
{
    public const string ConnectionStringVariable = "KOOGALLERY_TEST_STORAGE";

    // The well-known development account every Azurite accepts (not a secret).
    private const string DevAccount = "devstoreaccount1";
    private const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly Lazy<Task<Azurite>> Shared = new(StartAsync, LazyThreadSafetyMode.ExecutionAndPublication);

    private Azurite(string connectionString) => ConnectionString = connectionString;

    public string ConnectionString { get; }

    public static Task<Azurite> InstanceAsync() => Shared.Value;

    private static async Task<Azurite> StartAsync()
    {
        var supplied = Environment.GetEnvironmentVariable(ConnectionStringVariable);
        if (!string.IsNullOrWhiteSpace(supplied))
        {
            return new Azurite(supplied);
        }

        var executable = Path.Combine(RepositoryRoot.Path, "node_modules", ".bin", "azurite");
        if (!File.Exists(executable))
        {
            throw new InvalidOperationException(
                $"Azurite is not installed at {executable}. Run 'npm ci' in {RepositoryRoot.Path} (scripts/test.sh does), " +
                $"or set {ConnectionStringVariable} to a storage connection string.");
        }

        var workDir = Directory.CreateTempSubdirectory("koogallery-azurite-");
        var start = new ProcessStartInfo(executable)
        {
            WorkingDirectory = workDir.FullName,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--inMemoryPersistence", "--extentMemoryLimit", "256", "--skipApiVersionCheck", "--loose",
                     "--blobHost", "127.0.0.1", "--queueHost", "127.0.0.1", "--tableHost", "127.0.0.1",
                     "--blobPort", "0", "--queuePort", "0", "--tablePort", "0",
                 })
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Azurite did not start.");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(process);

        var ports = new Dictionary<string, int>();
        var output = new List<string>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException("Azurite exited: " + string.Join(" | ", output)));
                return;
            }

            lock (ports)
            {
                output.Add(e.Data);
                var m = Listening().Match(e.Data);
                if (m.Success)
                {
                    ports[m.Groups["service"].Value] = int.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture);
                }

                if (ports.Count == 3)
                {
                    ready.TrySetResult();
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (ports)
                {
                    output.Add(e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        await ready.Task.WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        return new Azurite(
            $"DefaultEndpointsProtocol=http;AccountName={DevAccount};AccountKey={DevKey};" +
            $"BlobEndpoint=http://127.0.0.1:{ports["Blob"]}/{DevAccount};" +
            $"QueueEndpoint=http://127.0.0.1:{ports["Queue"]}/{DevAccount};" +
            $"TableEndpoint=http://127.0.0.1:{ports["Table"]}/{DevAccount};");
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }

    [GeneratedRegex(@"Azurite (?<service>Blob|Queue|Table) service is successfully listening at http://[^:]+:(?<port>\d+)")]
    private static partial Regex Listening();
}
