using System.Xml.Linq;
using Gateway.Hosting;
using Gateway.Load;
using Gateway.Testing;
using HdrHistogram;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Load.Tests;

/// <summary>The real host on loopback (identity only), driven by the runner's closed and open models.</summary>
[Collection(SerialLoad.Name)]
public sealed class LoadModelsTests : IAsyncLifetime
{
    private string _repository = string.Empty;
    private WebApplication _app = null!;
    private Uri _address = null!;
    private Uri _grpcAddress = null!;

    public async Task InitializeAsync()
    {
        _repository = ReferenceModels.CreateRepository("identity");
        var grpcPort = FreePort.Next();
        _grpcAddress = new Uri($"http://127.0.0.1:{grpcPort}");
        _app = GatewayHost.Build(["--urls", "http://127.0.0.1:0", "--model-repository", _repository, "--Logging:LogLevel:Default", "Warning", "--Auth:Mode", "none",
            "--Grpc:Port", grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await _app.StartAsync();
        _address = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!GatewayProcess.IsReady(_address.Port))
        {
            Assert.True(DateTime.UtcNow < deadline, "the gateway was not ready within 60 s");
            await Task.Delay(10);
        }
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    [Theory]
    [InlineData("get")]
    [InlineData("json-identity")]
    [InlineData("binary-identity")]
    public async Task Closed_RecordsEveryAnswer(string name)
    {
        // No warm-up: a request is recorded when it starts inside the window, however long it
        // takes, so each caller's first request counts even on a machine busy with other work.
        var run = await ClosedRuns.EveryRequestAnsweredAsync(ScenarioCatalog.Create(name, ReferenceModels.FixturesDirectory), _address, atLeast: 2, seconds: 0.5);

        Assert.Equal(run.Data.Requests, run.Data.Latency.TotalCount);
        Assert.True(run.Data.ResponseBytes > 0 || name == "get");
    }

    [Fact]
    public async Task Closed_OverGrpc_RecordsEveryAnswer()
    {
        var run = await ClosedRuns.EveryRequestAnsweredAsync(ScenarioCatalog.Create("grpc-binary-identity", ReferenceModels.FixturesDirectory), _grpcAddress, atLeast: 2, seconds: 0.5);

        Assert.Equal(run.Data.Requests * 64, run.Data.ResponseBytes);
    }

    [Fact]
    public async Task Closed_OverGrpc_CountsFailuresByCode()
    {
        // mobilenet_v2 is not in this repository: every call is NOT_FOUND.
        var scenario = ScenarioCatalog.Create("grpc-mobilenet", ReferenceModels.FixturesDirectory);

        var run = await LoadModels.RunClosedAsync(scenario, _grpcAddress, callers: 1, warmupSeconds: 0, durationSeconds: 0.3);

        Assert.True(run.Data.Requests > 0);
        Assert.Equal(0, run.Data.Ok);
        Assert.Equal(run.Data.Requests, run.ErrorCount);
    }

    [Theory]
    [InlineData("binary-identity")]
    [InlineData("grpc-binary-identity")]
    public async Task H2load_RecordsEveryRequestFromItsLog(string name)
    {
        var scenario = ScenarioCatalog.Create(name, ReferenceModels.FixturesDirectory);
        var output = Directory.CreateTempSubdirectory("gateway-h2load-").FullName;
        try
        {
            // Twice into the same directory, as rounds of --repeat run: each run counts its own requests.
            for (var round = 1; round <= 2; round++)
            {
                var before = await SuccessesAsync();

                var result = await H2loadCrossCheck.RunAsync(H2load(), scenario, _address, _grpcAddress, connections: 2, warmupSeconds: 0, seconds: 1, output);

                // Every logged request was a success the model counted, none more (one in flight per
                // connection may land after h2load stopped logging).
                var counted = await SuccessesAsync() - before;
                Assert.Equal("h2load", result.Tool);
                Assert.True(result.Requests > 0);
                Assert.Equal(0, result.Errors);
                Assert.InRange(counted, result.Requests, result.Requests + 2);
                Assert.Equal(result.Requests, File.ReadAllLines(Path.Combine(output, $"h2load-{name}-c2.log")).Length);
                Assert.True(result.Latency.P50 > 0 && result.Latency.P50 <= result.Latency.P99 && result.Latency.P99 <= result.Latency.Max);
            }
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public async Task H2load_CountsFailedGrpcCallsThoughTheyAnswer200()
    {
        // gRPC answers INVALID_ARGUMENT with HTTP 200; only the model's own count tells it from a success.
        var scenario = ScenarioCatalog.Create("grpc-binary-identity", ReferenceModels.FixturesDirectory);
        scenario.GrpcRequest!.Inputs[0].Name = "NO_SUCH_INPUT";
        var output = Directory.CreateTempSubdirectory("gateway-h2load-").FullName;
        try
        {
            var result = await H2loadCrossCheck.RunAsync(H2load(), scenario, _address, _grpcAddress, connections: 1, warmupSeconds: 0, seconds: 1, output);

            Assert.True(result.Requests > 0);
            Assert.Equal(result.Requests, result.Errors);
            Assert.False(result.GrpcErrorsUncounted);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    private static string H2load() =>
        CrossCheckTools.FindOnPath("h2load") ?? throw new InvalidOperationException("h2load is not installed: apt-get install nghttp2-client (./build.sh test installs it)");

    private async Task<long> SuccessesAsync() =>
        await H2loadCrossCheck.SuccessesAsync(_address, "identity") ?? throw new InvalidOperationException("identity has no statistics");

    [Fact]
    public async Task Closed_CountsErrorsByStatus()
    {
        // mobilenet_v2 is not in this repository: every request is a 404.
        var scenario = ScenarioCatalog.Create("binary-mobilenet", ReferenceModels.FixturesDirectory);

        var run = await LoadModels.RunClosedAsync(scenario, _address, callers: 1, warmupSeconds: 0, durationSeconds: 0.3);

        Assert.True(run.Data.Requests > 0);
        Assert.Equal(0, run.Data.Ok);
        Assert.Equal(run.Data.Requests, run.Data.Errors["404"]);
        Assert.Equal(run.Data.Requests, run.ErrorCount);
    }

    [Fact]
    public async Task Run_WritesAPageWithOneCurvePerScenarioThatMatchesItsHistogram()
    {
        var binary = Path.GetTempFileName();
        var output = Directory.CreateTempSubdirectory("gateway-load-pictures-").FullName;
        try
        {
            var options = LoadOptions.Parse(["--binary", binary, "--models", ReferenceModels.FixturesDirectory, "--scenarios", "get,json-identity", "--repo-models", "identity"], out var error);
            Assert.True(options is not null, error);
            var report = new LoadReport { Options = options, StartedUtc = DateTime.UtcNow };
            foreach (var name in options.Scenarios)
            {
                var scenario = ScenarioCatalog.Create(name, ReferenceModels.FixturesDirectory);
                var sampler = ScenarioCatalog.ModelOf(name) is { } model ? StatsSampler.Start(_address, model) : null;
                var run = await LoadModels.RunClosedAsync(scenario, _address, callers: 2, warmupSeconds: 0.3, durationSeconds: 1);
                if (sampler is not null)
                {
                    await using (sampler)
                    {
                        run.Stats = await sampler.StopAsync();
                    }
                }

                // Every recorded answer lands in one bucket of the timeline.
                Assert.Equal(run.Data.Requests, run.Data.Completions.Sum());
                report.Runs.Add(run);
            }

            report.WriteFiles(output);

            // Well-formed: an XML parser reads the whole page, the inline SVG included.
            var page = XDocument.Load(Path.Combine(output, "report.html"));
            XNamespace svg = "http://www.w3.org/2000/svg";
            Assert.DoesNotContain(page.Descendants(), static e => e.Name.LocalName is "script" or "img" or "link");
            Assert.DoesNotContain("http://", File.ReadAllText(Path.Combine(output, "report.html")).Replace("http://www.w3.org/", string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);

            var latency = page.Descendants().Single(static e => (string?)e.Attribute("id") == "latency-closed-x2");
            var curves = latency.Descendants(svg + "polyline").ToList();
            Assert.Equal(["get", "json-identity"], curves.Select(static c => (string)c.Attribute("data-scenario")!));
            foreach (var curve in curves)
            {
                var name = (string)curve.Attribute("data-scenario")!;
                var percentiles = Numbers((string)curve.Attribute("data-percentiles")!);
                var values = Numbers((string)curve.Attribute("data-us")!);
                var hgrm = ReadHgrm(Path.Combine(output, $"{name}-closed-2-r1.hgrm"));
                Assert.Equal(hgrm.Count, percentiles.Length);
                Assert.Equal(hgrm.Count, values.Length);
                Assert.Equal(hgrm.Count, ((string)curve.Attribute("points")!).Split(' ').Length);
                for (var i = 0; i < hgrm.Count; i++)
                {
                    Assert.Equal(hgrm[i].Microseconds, values[i], 0.001);
                    Assert.Equal(hgrm[i].Fraction * 100, percentiles[i], 1e-9);
                }

                var run = report.Runs.Single(r => r.Scenario.Name == name);
                Assert.Equal(run.Data.Latency.GetMaxValue(), values[^1] * 1000, run.Data.Latency.GetMaxValue() / 1000.0);
            }

            // One requests-per-second curve per scenario, and the batch sizes the server formed:
            // identity is not batched, so every execution held one row.
            var rps = page.Descendants().Single(static e => (string?)e.Attribute("id") == "rps-closed-x2").Descendants(svg + "polyline").ToList();
            Assert.Equal(["get", "json-identity"], rps.Select(static c => (string)c.Attribute("data-scenario")!));
            var batch = page.Descendants().Single(static e => (string?)e.Attribute("id") == "batch-closed-x2").Descendants(svg + "polyline").Single();
            Assert.Equal("json-identity", (string)batch.Attribute("data-scenario")!);
            var rows = ((string)batch.Attribute("data-rows")!).Split(' ').Select(static p => double.Parse(p.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
            Assert.NotEmpty(rows);
            Assert.All(rows, static r => Assert.Equal(1.0, r));

            // Each picture also stands alone, for documents.
            Assert.Equal(svg + "svg", XDocument.Load(Path.Combine(output, "latency-closed-x2.svg")).Root!.Name);
        }
        finally
        {
            File.Delete(binary);
            Directory.Delete(output, recursive: true);
        }
    }

    private static double[] Numbers(string text) =>
        text.Split(' ').Select(static v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>The rows of an .hgrm file: value (µs) and percentile as a fraction, as HdrHistogram printed them.</summary>
    private static List<(double Microseconds, double Fraction)> ReadHgrm(string path)
    {
        var rows = new List<(double, double)>();
        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length is 3 or 4 && double.TryParse(parts[0], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var value)
                && double.TryParse(parts[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var fraction))
            {
                rows.Add((value, fraction));
            }
        }

        return rows;
    }

    [Fact]
    public async Task Open_SendsOnScheduleAndMeasuresFromIt()
    {
        var scenario = ScenarioCatalog.Create("json-identity", ReferenceModels.FixturesDirectory);

        var run = await LoadModels.RunOpenAsync(scenario, _address, rate: 200, connections: 4, warmupSeconds: 0.25, durationSeconds: 1);

        // 200/s for one measured second, whatever the server's speed: the schedule decides the count.
        Assert.InRange(run.Data.Requests, 199, 201);
        Assert.Equal(run.Data.Requests, run.Data.Ok);
        Assert.Equal(run.Data.Requests, run.Data.SendLag.TotalCount);
        Assert.Equal(run.Data.Requests, run.Data.ServiceTime.TotalCount);

        // Latency counts from the scheduled time, so it is never below the service time.
        Assert.True(run.Data.Latency.GetMaxValue() >= run.Data.ServiceTime.GetMaxValue());
        Assert.True(run.Data.Latency.GetValueAtPercentile(50) >= run.Data.ServiceTime.GetValueAtPercentile(50));
    }
}
