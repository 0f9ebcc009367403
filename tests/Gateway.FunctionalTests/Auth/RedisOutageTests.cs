using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Gateway.Auth;
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
    public async Task RedisDown_WithFailOpen_KeepsServing_AndStaysReady()
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

        // It serves, so it stays in the load balancer: a shared Redis must not drain every replica.
        foreach (var probe in new[] { "/health/ready", "/v2/health/ready" })
        {
            using var ready = await server.NewClient().GetAsync(probe);
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        var (status, description) = await DependenciesAsync(server);
        Assert.Equal("Degraded", status);
        Assert.Contains("Redis", description);
    }

    /// <summary>
    /// A paused Redis (SIGSTOP: connections open, nothing answers) is the slow Redis of issue 11:
    /// its commands end in RedisTimeoutException, a TimeoutException and not a RedisException.
    /// Fail closed: every answer is a 200 (before the outage is noticed) or a 503, never a 500.
    /// </summary>
    [Fact]
    public async Task RedisPaused_FailsClosed_Never500_AndRecoversByItself()
    {
        await using var server = await GatewayServer.StartAsync(_repository, "--Redis:Configuration", _redis.Configuration);
        using (var ok = await AuthApi.InferAsync(server, server.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        _redis.Pause();
        var seen = new List<HttpStatusCode>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            using var response = await AuthApi.InferAsync(server, server.AccessToken);
            seen.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                Assert.Equal("1", response.Headers.RetryAfter?.ToString());
                break;
            }

            // Paced: the feed is lost only after RevocationService.UnansweredPatience, and meanwhile
            // the rate limit falls back to this process's buckets, which a tight loop would empty.
            await Task.Delay(10);
        }

        // 429 is the rate limit on the local buckets (Redis cannot be asked), also a right answer.
        Assert.All(seen, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.TooManyRequests or HttpStatusCode.ServiceUnavailable, Summary(seen)));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, seen[^1]);
        using (var ready = await server.NewClient().GetAsync("/v2/health/ready"))
        {
            Assert.Contains("revocation feed", await AuthApi.ErrorAsync(ready, HttpStatusCode.ServiceUnavailable));
        }

        _redis.Resume();
        async Task<HttpStatusCode> Infer()
        {
            using var response = await AuthApi.InferAsync(server, server.AccessToken);
            return response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, await WaitForAsync(Infer, HttpStatusCode.OK, TimeSpan.FromSeconds(20)));
    }

    /// <summary>The statuses in order, runs collapsed ("OK x120, TooManyRequests x3, ServiceUnavailable").</summary>
    private static string Summary(List<HttpStatusCode> seen)
    {
        var runs = new List<string>();
        for (var i = 0; i < seen.Count;)
        {
            var j = i;
            while (j < seen.Count && seen[j] == seen[i])
            {
                j++;
            }

            runs.Add(j - i == 1 ? seen[i].ToString() : $"{seen[i]} x{j - i}");
            i = j;
        }

        return string.Join(", ", runs);
    }

    /// <summary>
    /// Fail open with a paused Redis: requests go on with local rate-limit buckets, and a logout
    /// (saved in the store, then published) answers 204 although the publish cannot get through.
    /// </summary>
    [Fact]
    public async Task RedisPaused_WithFailOpen_ServesLocally_LogoutSucceeds_AndRecovers()
    {
        await using var server = await GatewayServer.StartAsync(
            _repository, "--Redis:Configuration", _redis.Configuration, "--Auth:RevocationFailure", "open");
        var (_, worker, refresh) = await AuthApi.UserAsync(server, "paused-worker", "worker");
        _redis.Pause();
        for (var i = 0; i < 5; i++)
        {
            using var response = await AuthApi.InferAsync(server, worker);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var logout = await AuthApi.SendAsync(server, HttpMethod.Post, "/v1/auth/logout", worker, AuthApi.Json(new { refresh_token = refresh })))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        using (var revoked = await AuthApi.InferAsync(server, worker))
        {
            Assert.Contains("revoked", await AuthApi.ErrorAsync(revoked, HttpStatusCode.Unauthorized));
        }

        using (var ready = await server.NewClient().GetAsync("/health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        // The feed counts as lost once Redis has not answered for RevocationService.UnansweredPatience.
        var (status, description) = await DependenciesAsync(server);
        var waited = Stopwatch.StartNew();
        while (status != "Degraded" && waited.Elapsed < RevocationService.UnansweredPatience + TimeSpan.FromSeconds(10))
        {
            await Task.Delay(100);
            (status, description) = await DependenciesAsync(server);
        }

        Assert.Equal("Degraded", status);
        Assert.Contains("Redis", description);

        _redis.Resume();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20) && (await DependenciesAsync(server)).Status != "Healthy")
        {
            await Task.Delay(100);
        }

        Assert.Equal("Healthy", (await DependenciesAsync(server)).Status);
    }

    private static async Task<(string Status, string Description)> DependenciesAsync(GatewayServer server)
    {
        using var response = await server.Client.GetAsync("/health/details");
        using var detail = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var dependencies = detail.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "dependencies");
        return (dependencies.GetProperty("status").GetString()!, dependencies.TryGetProperty("description", out var d) ? d.GetString()! : string.Empty);
    }
}
