using System.Globalization;
using System.Text;
using System.Text.Json;
using Gateway.FuzzTests;
using Gateway.Testing;

namespace Gateway.AotTests;

/// <summary>
/// The whole bad-input and attack corpus (tests/fixtures/fuzz: every input the fuzzer or a reader
/// found, attacks on HTTP framing, paths, names and credentials) against the published binary,
/// twice; then <c>/metrics</c> must show requests answered with 4xx and none with 5xx, and the
/// second pass must not grow the process.
/// </summary>
public class AttackCorpusTests
{
    [Fact]
    public async Task WholeCorpus_AgainstTheAotBinary_No5xxInTheMetrics()
    {
        var repository = ReferenceModels.CreateRepository("identity", "add_sub", "mlp", "bert_tiny");
        await using var gateway = AotGateway.Start(repository,
            "--RateLimit:Admin:PerSecond", "100000", "--RateLimit:Admin:Burst", "100000",
            "--RateLimit:Viewer:PerSecond", "100000", "--RateLimit:Viewer:Burst", "100000",
            "--RateLimit:LoginPerAccount:Failures", "100000",
            "--RateLimit:LoginPerAddress:Failures", "100000");
        await gateway.WaitReadyAsync();
        var admin = gateway.Client.DefaultRequestHeaders.Authorization!.Parameter!;
        using var created = await gateway.Client.PostAsync("/v1/users", new StringContent("""{"username":"fuzz-user","password":"fuzz user passphrase","role":"viewer"}""", Encoding.UTF8, "application/json"));
        using var user = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        using var login = await gateway.Client.PostAsync("/v1/auth/login", new StringContent("""{"username":"fuzz-user","password":"fuzz user passphrase"}""", Encoding.UTF8, "application/json"));
        using var tokens = JsonDocument.Parse(await login.Content.ReadAsStringAsync());
        var http = new HttpProperty(gateway.Address, admin, tokens.RootElement.GetProperty("access_token").GetString()!, user.RootElement.GetProperty("id").GetInt64());

        var failures = new List<string>();
        var sent = await RunCorpusAsync(http, failures);
        var afterFirst = ResidentBytes(gateway);
        await RunCorpusAsync(http, failures);
        var afterSecond = ResidentBytes(gateway);
        Assert.True(failures.Count == 0, string.Join("\n", failures) + "\n" + gateway.Output);
        Assert.False(gateway.Process.HasExited, gateway.Output);

        var metrics = await gateway.Client.GetStringAsync("/metrics");
        var counts = CountsByCode(metrics);
        Assert.True(counts.Where(static c => c.Key.StartsWith('4')).Sum(static c => c.Value) >= sent / 2,
            $"the corpus's refusals are not in gateway_http_request_duration_seconds_count ({sent} sent): {string.Join(", ", counts)}");
        var errors = counts.Where(static c => c.Key.StartsWith('5') && c.Value > 0).ToList();
        Assert.True(errors.Count == 0, "5xx answers counted: " + string.Join(", ", errors) + "\n"
            + string.Join("\n", metrics.Split('\n').Where(static l => l.StartsWith("gateway_http_request_duration_seconds_count{", StringComparison.Ordinal) && l.Contains("code=\"5", StringComparison.Ordinal))));

        // Memory returns to its level: a second pass over the same corpus holds no more.
        Assert.True(afterSecond - afterFirst < 32L << 20, $"resident memory grew from {afterFirst} to {afterSecond} bytes over the second pass");
    }

    private static async Task<int> RunCorpusAsync(HttpProperty http, List<string> failures)
    {
        var sent = 0;
        async Task Try(string name, Func<Task<string>> send)
        {
            sent++;
            try
            {
                await send();
            }
            catch (Exception ex) when (ex is InvalidOperationException or HttpRequestException or JsonException or TaskCanceledException)
            {
                failures.Add($"{name}: {ex.Message}");
            }
        }

        foreach (var c in Corpus.Infer())
        {
            await Try("infer/" + c.Name, () => http.InferAsync(c.Fields["model"], c.Body, c.Fields.GetValueOrDefault("header-length")));
        }

        foreach (var c in Corpus.Auth())
        {
            var endpoint = c.Fields["endpoint"].Split(' ');
            await Try("auth/" + c.Name, () => http.AuthAsync(endpoint[0], endpoint[1], c.Body));
        }

        foreach (var (name, token) in Corpus.Jwt())
        {
            await Try("jwt/" + name, () => http.BearerAsync(token));
        }

        foreach (var (name, request) in Corpus.Http())
        {
            await Try("http/" + name, () => http.RawAsync(request));
        }

        return sent;
    }

    /// <summary>gateway_http_request_duration_seconds_count summed by its code label.</summary>
    private static Dictionary<string, double> CountsByCode(string metrics)
    {
        var counts = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in metrics.Split('\n'))
        {
            if (!line.StartsWith("gateway_http_request_duration_seconds_count{", StringComparison.Ordinal))
            {
                continue;
            }

            var at = line.IndexOf("code=\"", StringComparison.Ordinal) + 6;
            var code = line[at..line.IndexOf('"', at)];
            counts[code] = counts.GetValueOrDefault(code) + double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        }

        return counts;
    }

    private static long ResidentBytes(GatewayProcess gateway)
    {
        foreach (var line in File.ReadLines($"/proc/{gateway.Process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS");
    }
}
