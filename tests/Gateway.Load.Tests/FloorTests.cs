using System.Globalization;
using Gateway.Load;
using Gateway.Testing;

namespace Gateway.Load.Tests;

/// <summary>
/// The framework's floor (load/Gateway.Floor) as the runner drives it: the scenarios it stands in
/// for answer as the gateway's do (same bytes back), and anything else is refused, so a floor
/// figure is never the figure of a request the floor did not serve.
/// </summary>
[Collection(SerialLoad.Name)]
public sealed class FloorTests : IAsyncLifetime
{
    private GatewayProcess _floor = null!;
    private Uri _grpcAddress = null!;

    public async Task InitializeAsync()
    {
        var grpcPort = FreePort.Next();
        _grpcAddress = new Uri($"http://127.0.0.1:{grpcPort}");
        var info = new GatewayStartInfo { FileName = FloorBinary(), Arguments = { "--Grpc:Port", grpcPort.ToString(CultureInfo.InvariantCulture) } };
        _floor = GatewayProcess.Start(info);
        await _floor.WaitReadyAsync(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync() => await _floor.DisposeAsync();

    [Theory]
    [InlineData("get")]
    [InlineData("binary-identity")]
    public async Task Rest_AnswersWhatTheGatewayAnswers(string name)
    {
        // One answer in the window is enough: what this checks is that every request recorded
        // was answered as the gateway answers it, not how many the JIT-built floor serves.
        var run = await ClosedRuns.EveryRequestAnsweredAsync(ScenarioCatalog.Create(name, ReferenceModels.FixturesDirectory), _floor.Address, atLeast: 1, seconds: 1.0);

        if (name == "binary-identity")
        {
            // The gateway's answer to this sample is its own 64 bytes under a JSON header; the floor
            // echoes the same 64 bytes under a header of its own.
            Assert.True(run.Data.ResponseBytes >= run.Data.Requests * 64);
        }
    }

    [Fact]
    public async Task Grpc_EchoesTheRawContents()
    {
        var run = await ClosedRuns.EveryRequestAnsweredAsync(ScenarioCatalog.Create("grpc-binary-identity", ReferenceModels.FixturesDirectory), _grpcAddress, atLeast: 1, seconds: 1.0);

        Assert.Equal(run.Data.Requests * 64, run.Data.ResponseBytes);
    }

    [Fact]
    public async Task H2load_OverGrpc_SaysItCouldNotCountFailures()
    {
        // The floor has no model statistics: h2load's HTTP 200s are all the runner can know.
        var h2load = CrossCheckTools.FindOnPath("h2load") ?? throw new InvalidOperationException("h2load is not installed: apt-get install nghttp2-client");
        var output = Directory.CreateTempSubdirectory("gateway-floor-h2load-").FullName;
        try
        {
            var scenario = ScenarioCatalog.Create("grpc-binary-identity", ReferenceModels.FixturesDirectory);

            var result = await H2loadCrossCheck.RunAsync(h2load, scenario, _floor.Address, _grpcAddress, connections: 1, warmupSeconds: 0, seconds: 1, output);

            Assert.True(result.Requests > 0);
            Assert.Equal(0, result.Errors);
            Assert.True(result.GrpcErrorsUncounted);
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Fact]
    public async Task Json_IsRefusedWithA400ThatSaysWhy()
    {
        // The floor stands in for the binary extension only; a JSON figure from it would be a lie.
        var scenario = ScenarioCatalog.Create("json-identity", ReferenceModels.FixturesDirectory);
        using var client = LoadModels.CreateClient(_floor.Address, 1);

        var problem = await scenario.CheckAsync(client);

        Assert.NotNull(problem);
        Assert.Contains("answered 400", problem, StringComparison.Ordinal);
        Assert.Contains("binary extension only", problem, StringComparison.Ordinal);
    }

    /// <summary>The floor's apphost, built beside this project in the same configuration.</summary>
    private static string FloorBinary()
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar)).Name;
        var binary = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "Gateway.Floor", configuration, "gateway-floor"));
        Assert.True(File.Exists(binary), $"{binary} is missing: build load/Gateway.Floor (it is in Gateway.sln)");
        return binary;
    }
}
