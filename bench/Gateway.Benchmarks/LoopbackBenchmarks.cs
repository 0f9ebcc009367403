using System.Globalization;
using System.Net.Http.Headers;
using BenchmarkDotNet.Attributes;
using Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Benchmarks;

/// <summary>
/// The real host (Kestrel) on 127.0.0.1 in this process, driven by one pooled
/// <see cref="HttpClient"/> connection: a constant GET against V2 infer on identity. Time and
/// allocations include the client's side, so read these as ratios; the load runner
/// (<c>./build.sh load</c>) measures the published binary from outside.
/// Logging is at Warning so console output is not what is measured, and authentication is off
/// (<c>Auth.AuthenticationBenchmarks</c> measures it).
/// </summary>
[MemoryDiagnoser]
public class LoopbackBenchmarks
{
    private WebApplication _app = null!;
    private HttpClient _client = null!;
    private byte[] _body = [];
    private string _headerLength = string.Empty;

    [Params("GET /v2/health/live", "json identity [1,16]", "binary identity [1,16]")]
    public string Case { get; set; } = string.Empty;

    [GlobalSetup]
    public void Setup()
    {
        var models = BenchModels.Shared;
        string[] args = ["--urls", "http://127.0.0.1:0", "--model-repository", models.Options.ModelRepository, "--Logging:LogLevel:Default", "Warning", "--Auth:Mode", "none"];
        _app = GatewayHost.Build(args);
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1, UseProxy = false }) { BaseAddress = new Uri(address) };

        var payload = Case switch
        {
            "json identity [1,16]" => PayloadCase.Json("identity", 0, "[1,16]").Prepare(models.Fixtures),
            "binary identity [1,16]" => PayloadCase.BinaryCase("identity", 0, "[1,16]").Prepare(models.Fixtures),
            _ => null,
        };
        _body = payload?.Body ?? [];
        _headerLength = payload is { IsBinary: true } ? payload.HeaderLength.ToString(CultureInfo.InvariantCulture) : string.Empty;

        // Models load in the background after start; wait for readiness as a client would.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            using var ready = _client.GetAsync("/v2/health/ready").GetAwaiter().GetResult();
            if (ready.IsSuccessStatusCode)
            {
                break;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("the in-process gateway was not ready within 60 s");
            }

            Thread.Sleep(10);
        }

        for (var i = 0; i < 100; i++)
        {
            var status = Send().GetAwaiter().GetResult();
            if (status != 200)
            {
                throw new InvalidOperationException($"{Case}: the server answered {status}");
            }
        }
    }

    [Benchmark]
    public async Task<int> Send()
    {
        using var request = _body.Length == 0
            ? new HttpRequestMessage(HttpMethod.Get, "/v2/health/live")
            : new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity/infer") { Content = CreateContent() };
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        return (int)response.StatusCode;
    }

    private ByteArrayContent CreateContent()
    {
        var content = new ByteArrayContent(_body);
        content.Headers.ContentType = new MediaTypeHeaderValue(_headerLength.Length > 0 ? "application/octet-stream" : "application/json");
        if (_headerLength.Length > 0)
        {
            content.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", _headerLength);
        }

        return content;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _app.StopAsync().GetAwaiter().GetResult();
        _app.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}
