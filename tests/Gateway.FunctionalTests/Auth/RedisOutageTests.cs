using System.Diagnostics;
using System.Net;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// Redis goes away and comes back: token checks fail closed (503) by default, readiness says
/// why, and service resumes by itself. With <c>Auth:RevocationFailure=open</c> requests go on.
/// </summary>
public sealed class RedisOutageTests : IDisposable
{
    private readonly RedisProcess _redis = new();
    private readonly string _repository = ReferenceModels.CreateRepository("identity");

    public void Dispose()
    {
        _redis.Dispose();
        Directory.Delete(_repository, recursive: true);
    }

    private static async Task<HttpStatusCode> WaitForAsync(Func<Task<HttpStatusCode>> probe, HttpStatusCode wanted, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        var last = default(HttpStatusCode);
        while (clock.Elapsed < within)
        {
            last = await probe();
            if (last == wanted)
            {
                return last;
            }

            await Task.Delay(50);
        }

        return last;
    }

    [Fact]
    public async Task RedisDown_FailsClosed_ReadinessSaysSo_AndRecoversByItself()
    {
        await using var server = await GatewayServer.StartAsync(_repository, "--Redis:Configuration", _redis.Configuration);
        using (var ok = await AuthApi.InferAsync(server, server.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        _redis.Stop();
        async Task<HttpStatusCode> Infer()
        {
            using var response = await AuthApi.InferAsync(server, server.AccessToken);
            return response.StatusCode;
        }

        async Task<HttpStatusCode> Ready()
        {
            using var response = await server.NewClient().GetAsync("/v2/health/ready");
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, await WaitForAsync(Infer, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(10)));
        using (var refused = await AuthApi.InferAsync(server, server.AccessToken))
        {
            Assert.Contains("Redis", await AuthApi.ErrorAsync(refused, HttpStatusCode.ServiceUnavailable));
            Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        }

        using (var ready = await server.NewClient().GetAsync("/v2/health/ready"))
        {
            Assert.Contains("revocation feed", await AuthApi.ErrorAsync(ready, HttpStatusCode.ServiceUnavailable));
        }

        using (var live = await server.NewClient().GetAsync("/v2/health/live"))
        {
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }

        _redis.Start();
        Assert.Equal(HttpStatusCode.OK, await WaitForAsync(Infer, HttpStatusCode.OK, TimeSpan.FromSeconds(20)));
        Assert.Equal(HttpStatusCode.OK, await WaitForAsync(Ready, HttpStatusCode.OK, TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task RedisDown_WithFailOpen_KeepsServing()
    {
        await using var server = await GatewayServer.StartAsync(
            _repository, "--Redis:Configuration", _redis.Configuration, "--Auth:RevocationFailure", "open");
        _redis.Stop();
        await Task.Delay(1500);
        for (var i = 0; i < 5; i++)
        {
            using var response = await AuthApi.InferAsync(server, server.AccessToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Contains(server.Logs.Lines, line => line.Contains("[520]", StringComparison.Ordinal));
    }
}
