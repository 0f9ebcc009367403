using System.Text;
using System.Text.Json;
using CsCheck;
using Gateway.FunctionalTests;
using Gateway.Testing;

namespace Gateway.FuzzTests;

/// <summary>
/// The endpoints through the real pipeline (Kestrel on loopback, auth, routing, the handlers): the
/// whole corpus, then mutated infer requests, identity bodies and tokens, each judged by
/// <see cref="HttpProperty"/>; afterwards the server still serves and its heap is back near its level.
/// </summary>
[Trait("Category", "Fuzz")]
public sealed class HttpFuzzTests : IAsyncLifetime
{
    private static readonly string[] s_served = ["identity", "add_sub", "mlp", "bert_tiny", "add_sub_b8"];
    private GatewayServer _server = null!;
    private HttpProperty _http = null!;
    private string _repository = null!;

    public async Task InitializeAsync()
    {
        _repository = ReferenceModels.CreateRepository("identity", "add_sub", "mlp", "bert_tiny");
        var batched = Path.Combine(_repository, "add_sub_b8");
        Directory.CreateDirectory(Path.Combine(batched, "1"));
        File.CreateSymbolicLink(Path.Combine(batched, "1", "model.onnx"), ReferenceModels.ModelFile("add_sub"));
        File.WriteAllText(Path.Combine(batched, "config.json"), """{"backend":"onnx","max_batch_size":8,"dynamic_batching":{"max_queue_delay_microseconds":100,"priority_levels":3,"default_priority_level":2}}""");
        // Rate limits high enough that mutated requests reach the handlers instead of a 429.
        _server = await GatewayServer.StartAsync(_repository, "--Logging:LogLevel:Default", "Error",
            "--RateLimit:Admin:PerSecond", "100000", "--RateLimit:Admin:Burst", "100000",
            "--RateLimit:Viewer:PerSecond", "100000", "--RateLimit:Viewer:Burst", "100000",
            "--RateLimit:LoginPerAccount:Failures", "100000",
            "--RateLimit:LoginPerAddress:Failures", "100000");
        using var created = await _server.Client.PostAsync("/v1/users", new StringContent("""{"username":"fuzz-user","password":"fuzz user passphrase","role":"viewer"}""", Encoding.UTF8, "application/json"));
        using var user = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        var tokens = await _server.LoginAsync("fuzz-user", "fuzz user passphrase");
        _http = new HttpProperty(_server.Address, _server.AccessToken, tokens.GetProperty("access_token").GetString()!, user.RootElement.GetProperty("id").GetInt64());
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    [Fact]
    public async Task WholeCorpus_OverHttp_NeverA5xx()
    {
        var failures = new List<string>();
        async Task Try(string name, Func<Task<string>> send)
        {
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
            await Try("infer/" + c.Name, () => _http.InferAsync(c.Fields["model"], c.Body, c.Fields.GetValueOrDefault("header-length")));
        }

        foreach (var c in Corpus.Auth())
        {
            var endpoint = c.Fields["endpoint"].Split(' ');
            await Try("auth/" + c.Name, () => _http.AuthAsync(endpoint[0], endpoint[1], c.Body));
        }

        foreach (var (name, token) in Corpus.Jwt())
        {
            await Try("jwt/" + name, () => _http.BearerAsync(token));
        }

        foreach (var (name, request) in Corpus.Http())
        {
            await Try("http/" + name, () => _http.RawAsync(request));
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task MutatedRequests_OverHttp_NeverA5xx()
    {
        var seeds = InferSeeds.All.Value;
        var served = Enumerable.Range(0, seeds.Length).Where(i => s_served.Contains(seeds[i].Model)).ToArray();
        var inferGen = Gen.Select(Gen.Int[0, served.Length - 1], Mutator.Some, Gen.Int[0, 8], Gen.UInt, (s, m, op, arg) => new InferCase(served[s], m, op, arg));
        Fuzz.Run("http-infer", inferGen, c =>
        {
            var (body, length) = c.Build();
            return _http.InferAsync(c.Source.Model, body, length).GetAwaiter().GetResult();
        }, static c => c.ToString(), executions: 3_000, capSeconds: 10, maxRetainedBytes: 128L << 20);

        Fuzz.Run("http-auth", AuthCase.Gen, c => _http.AuthAsync(c.Endpoint.Method, c.Endpoint.Path, c.Build()).GetAwaiter().GetResult(),
            static c => c.ToString(), executions: 1_500, capSeconds: 6, maxRetainedBytes: 128L << 20);

        Fuzz.Run("http-jwt", JwtCase.Gen, c => _http.BearerAsync(c.Build()).GetAwaiter().GetResult(),
            static c => c.ToString(), executions: 2_000, capSeconds: 4, maxRetainedBytes: 128L << 20);

        await AssertStillServingAsync();
    }

    private async Task AssertStillServingAsync()
    {
        var sample = ReferenceModels.Load("identity", 0);
        using var response = await _server.PostJsonAsync("/v2/models/identity/infer", V2Requests.Json(sample));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
    }
}
