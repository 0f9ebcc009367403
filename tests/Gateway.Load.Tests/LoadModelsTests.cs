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
        var scenario = ScenarioCatalog.Create(name, ReferenceModels.FixturesDirectory);
        using (var client = LoadModels.CreateClient(_address, 1))
        {
            Assert.Null(await scenario.CheckAsync(client));
        }

        // No warm-up: a request is recorded when it starts inside the window, however long it
        // takes, so each caller's first request counts even on a machine busy with other work.
        var run = await LoadModels.RunClosedAsync(scenario, _address, callers: 2, warmupSeconds: 0, durationSeconds: 0.5);

        Assert.True(run.Data.Requests >= 2);
        Assert.Equal(run.Data.Requests, run.Data.Ok);
        Assert.Equal(run.Data.Requests, run.Data.Latency.TotalCount);
        Assert.Equal(0, run.ErrorCount);
        Assert.True(run.Data.ResponseBytes > 0 || name == "get");
    }

    [Fact]
    public async Task Closed_OverGrpc_RecordsEveryAnswer()
    {
        var scenario = ScenarioCatalog.Create("grpc-binary-identity", ReferenceModels.FixturesDirectory);
        Assert.Null(await scenario.CheckGrpcAsync(_grpcAddress));

        var run = await LoadModels.RunClosedAsync(scenario, _grpcAddress, callers: 2, warmupSeconds: 0, durationSeconds: 0.5);

        Assert.True(run.Data.Requests >= 2);
        Assert.Equal(run.Data.Requests, run.Data.Ok);
        Assert.Equal(0, run.ErrorCount);
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
