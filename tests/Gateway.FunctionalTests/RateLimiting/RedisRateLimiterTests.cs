using Gateway.RateLimiting;
using Gateway.Redis;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.FunctionalTests.RateLimiting;

/// <summary>The rate limiter through a real Redis: shared buckets, and a Redis that stops answering.</summary>
public sealed class RedisRateLimiterTests
{
    [Fact]
    public async Task RedisBucket_IsSharedByReplicas()
    {
        var prefix = "test-" + Guid.NewGuid().ToString("N") + ":";
        var limiters = new List<RateLimiter>();
        var connections = new List<RedisConnection>();
        for (var i = 0; i < 2; i++)
        {
            var connection = new RedisConnection(new RedisOptions { Configuration = TestServices.Redis, KeyPrefix = prefix }, NullLogger<RedisConnection>.Instance);
            await connection.ConnectAsync(null);
            Assert.True(connection.IsConnected);
            connections.Add(connection);
            limiters.Add(new RateLimiter(connection, TimeProvider.System, NullLogger<RateLimiter>.Instance));
        }

        try
        {
            var rule = new RateRule(0.001, 4);
            var allowed = 0;
            for (var i = 0; i < 10; i++)
            {
                allowed += (await limiters[i % 2].AcquireAsync("k:1", rule)).Allowed ? 1 : 0;
            }

            Assert.Equal(4, allowed);
            var refused = await limiters[0].AcquireAsync("k:1", rule);
            Assert.False(refused.Allowed);
            Assert.True(refused.RetryAfterSeconds > 100);
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A paused Redis answers nothing: the script ends in RedisTimeoutException, which is a
    /// TimeoutException and not a RedisException. The limiter must fall back to its local
    /// buckets, never throw into the request.
    /// </summary>
    [Fact]
    public async Task PausedRedis_FallsBackToLocalBuckets_WithoutThrowing()
    {
        using var server = new RedisProcess();
        var connection = new RedisConnection(new RedisOptions { Configuration = server.Configuration }, NullLogger<RedisConnection>.Instance);
        await connection.ConnectAsync(null);
        try
        {
            var limiter = new RateLimiter(connection, TimeProvider.System, NullLogger<RateLimiter>.Instance);
            var rule = new RateRule(0.001, 3);
            Assert.True((await limiter.AcquireAsync("u:1", rule)).Allowed);
            server.Pause();
            var decisions = new List<RateDecision>();
            for (var i = 0; i < 3; i++)
            {
                decisions.Add(await limiter.AcquireAsync("u:1", rule));
            }

            // The local bucket starts full (it never saw the token Redis took): three allowed, then refused.
            Assert.All(decisions, d => Assert.True(d.Allowed));
            Assert.False((await limiter.AcquireAsync("u:1", rule)).Allowed);

            // After the first timeout nobody waits on Redis any more, until a PING answers again.
            Assert.False(connection.IsUsable);
            Assert.False(await connection.ProbeAsync());
            server.Resume();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!await connection.ProbeAsync() && clock.Elapsed < TimeSpan.FromSeconds(15))
            {
                await Task.Delay(100);
            }

            Assert.True(connection.IsUsable);
        }
        finally
        {
            server.Resume();
            await connection.DisposeAsync();
        }
    }
}
