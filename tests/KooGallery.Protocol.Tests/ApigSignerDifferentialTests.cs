using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using KooGallery.Protocol.Crypto;
using KooGallery.Protocol.Signing;

namespace KooGallery.Protocol.Tests;

/// <summary>
/// Signed exactly as Huawei signs: thousands of random requests (methods, paths, repeated and empty query names and
/// values, reserved and non-ASCII characters, bodies) signed by Huawei's own SDK code — the npm package
/// <c>@huaweicloud/huaweicloud-sdk-core</c>, installed from the repository's package.json like Azurite — and by
/// <see cref="ApigSigner"/>: every signature equal, every Huawei-signed request accepted by the verifier, and every
/// one-character tamper refused.
/// </summary>
public class ApigSignerDifferentialTests
{
    private const string Ak = "HPUAEXAMPLEACCESSKEY";
    private const string Sk = "example-secret-key-0123456789abcdefghijklmn";
    private const string Host = "mkt.myhuaweicloud.com";

    private static readonly string[] Pieces = ["a", "B", "z", "0", "9", "-", "_", ".", "~", ";", "{", "[", "@", "/", "?", "#", "&", "=", "+", " ", "%", "!", "*", "'", "(", ",", "é", "华", "云", "😀", "\u00a0"];

    private sealed record Case(string Method, string Path, List<(string Name, List<string> Values)> Query, JsonObject? Data, DateTimeOffset At)
    {
        public string Date => At.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

        public Uri ToUri()
        {
            var query = string.Join('&', Query.SelectMany(q => q.Values.Select(v => System.Uri.EscapeDataString(q.Name) + "=" + System.Uri.EscapeDataString(v))));
            return new System.Uri($"https://{Host}{Path}{(query.Length == 0 ? string.Empty : "?" + query)}");
        }

        public JsonObject ToJob() => new()
        {
            ["method"] = Method,
            ["endpoint"] = $"https://{Host}{Path}",
            ["query"] = new JsonObject(Query.Select(q => KeyValuePair.Create(q.Name, q.Values.Count == 1 ? (JsonNode?)JsonValue.Create(q.Values[0]) : new JsonArray(q.Values.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray())))),
            ["date"] = Date,
            ["data"] = Data?.DeepClone(),
        };
    }

    [Fact]
    public void Our_signer_signs_every_request_exactly_as_huaweis_sdk_and_our_verifier_accepts_it_and_refuses_any_tamper()
    {
        var random = new Random(20261203);
        var at = new DateTimeOffset(2026, 12, 3, 10, 15, 30, TimeSpan.Zero);
        var cases = Enumerable.Range(0, 3000).Select(_ => Generate(random, at)).ToList();

        var huawei = SignWithHuaweiSdk(cases);

        var failures = new List<string>();
        for (var i = 0; i < cases.Count; i++)
        {
            var c = cases[i];
            var theirs = huawei[i];
            var body = Encoding.UTF8.GetBytes(theirs.Body);
            var uri = c.ToUri();
            var headers = new List<KeyValuePair<string, string>> { new("content-type", "application/json"), new("host", Host), new("x-sdk-date", c.Date) };
            var canonical = ApigSigner.CanonicalRequest(c.Method, uri, headers, HmacHex.Sha256LowerHex(body), out var signedHeaders);
            var ours = ApigSigner.AuthorizationHeader(Ak, signedHeaders, ApigSigner.Signature(Sk, ApigSigner.StringToSign(c.Date, canonical)));
            if (ours != theirs.Authorization)
            {
                failures.Add($"#{i} {c.Method} {uri}: our signature differs from Huawei's.\n  ours:   {canonical.Replace("\n", "\\n", StringComparison.Ordinal)}\n  Huawei: {theirs.Canonical?.Replace("\n", "\\n", StringComparison.Ordinal)}");
                continue;
            }

            List<KeyValuePair<string, string>> Signed(IEnumerable<KeyValuePair<string, string>> h) => [.. h, new("Authorization", theirs.Authorization)];
            if (!Verify(c.Method, uri, Signed(headers), body, c.At))
            {
                failures.Add($"#{i} {c.Method} {uri}: the verifier refused Huawei's signature");
            }

            // One character changed anywhere the signature covers must be refused.
            var tampered = new List<(string What, bool Accepted)>
            {
                ("method", Verify(c.Method == "GET" ? "POST" : "GET", uri, Signed(headers), body, c.At)),
                ("path", Verify(c.Method, new Uri(uri.ToString().Replace(c.Path, c.Path + "x", StringComparison.Ordinal)), Signed(headers), body, c.At)),
                ("host", Verify(c.Method, uri, Signed(headers.Select(h => h.Key == "host" ? new KeyValuePair<string, string>("host", "mkt.myhuaweicloud.cn") : h)), body, c.At)),
            };
            if (uri.Query.Length > 1)
            {
                var query = uri.Query;
                var position = random.Next(1, query.Length);
                var changed = query[..position] + (query[position] == 'a' ? 'b' : 'a') + query[(position + 1)..];
                if (!string.Equals(Decoded(changed), Decoded(query), StringComparison.Ordinal))
                {
                    tampered.Add(("query", Verify(c.Method, new Uri($"https://{Host}{c.Path}{changed}"), Signed(headers), body, c.At)));
                }
            }

            if (body.Length > 0)
            {
                var changed = (byte[])body.Clone();
                changed[random.Next(changed.Length)] ^= 0x01;
                tampered.Add(("body", Verify(c.Method, uri, Signed(headers), changed, c.At)));
            }

            failures.AddRange(tampered.Where(t => t.Accepted).Select(t => $"#{i} {c.Method} {uri}: a changed {t.What} was accepted"));
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count} requests:\n" + string.Join('\n', failures.Take(15)));
    }

    private static string Decoded(string query) =>
        string.Join('&', query.TrimStart('?').Split('&').Select(p => Uri.UnescapeDataString(p.Replace('+', ' '))).Order(StringComparer.Ordinal));

    private static bool Verify(string method, Uri uri, IEnumerable<KeyValuePair<string, string>> headers, byte[] body, DateTimeOffset at) =>
        ApigSigner.Verify(method, uri, headers, body, ak => ak == Ak ? Sk : null, at, TimeSpan.FromMinutes(15)).IsValid;

    private static Case Generate(Random random, DateTimeOffset at)
    {
        string Text(int min, int max) => string.Concat(Enumerable.Range(0, random.Next(min, max + 1)).Select(_ => Pieces[random.Next(Pieces.Length)]));
        // Segments of "." or ".." are dot-segments that URLs remove (.NET's Uri, and so HttpClient, never sends them).
        string Segment()
        {
            string segment;
            do
            {
                segment = string.Concat(Enumerable.Range(0, random.Next(1, 8)).Select(_ => "abcdefghijklmnopqrstuvwxyz0123456789-_.~"[random.Next(40)]));
            }
            while (segment.Trim('.').Length == 0);
            return segment;
        }

        var methods = new[] { "GET", "POST", "PUT", "DELETE" };
        var path = "/" + string.Join('/', Enumerable.Range(0, random.Next(1, 5)).Select(_ => Segment()));
        var names = new HashSet<string>(StringComparer.Ordinal);
        var query = new List<(string, List<string>)>();
        for (var n = random.Next(0, 6); n > 0; n--)
        {
            var name = Text(1, 4);
            if (names.Add(name))
            {
                query.Add((name, Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(6) == 0 ? string.Empty : Text(1, 6)).ToList()));
            }
        }

        var data = random.Next(3) == 0 ? null : new JsonObject { ["usage_value"] = Text(0, 5), ["n"] = random.Next(1000) };
        return new Case(methods[random.Next(methods.Length)], path, query, data, at);
    }

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    private sealed record HuaweiSigned(string Authorization, string Body, string? Canonical);

    private static List<HuaweiSigned> SignWithHuaweiSdk(List<Case> cases)
    {
        var root = RepositoryRoot();
        var script = Path.Combine(root, "tests", "KooGallery.Protocol.Tests", "Huawei", "sign-with-huawei-sdk.js");
        Assert.True(Directory.Exists(Path.Combine(root, "node_modules", "@huaweicloud", "huaweicloud-sdk-core")), "Huawei's SDK is not installed: run 'npm ci' in the repository (scripts/test.sh does).");
        var job = new JsonObject { ["ak"] = Ak, ["sk"] = Sk, ["requests"] = new JsonArray(cases.Select(c => (JsonNode?)c.ToJob()).ToArray()) };
        var start = new ProcessStartInfo("node", [script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
            StandardInputEncoding = new UTF8Encoding(false),
            StandardOutputEncoding = Encoding.UTF8,
        };
        using var node = Process.Start(start)!;
        var output = node.StandardOutput.ReadToEndAsync();
        var errors = node.StandardError.ReadToEndAsync();
        node.StandardInput.Write(job.ToJsonString());
        node.StandardInput.Close();
        Assert.True(node.WaitForExit(TimeSpan.FromMinutes(2)), "Huawei's SDK signer did not finish");
        Assert.True(node.ExitCode == 0, errors.Result);
        return JsonSerializer.Deserialize<List<HuaweiSigned>>(output.Result, Web)!;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KooGalleryFunctions.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (KooGalleryFunctions.sln) was not found above " + AppContext.BaseDirectory);
    }
}
