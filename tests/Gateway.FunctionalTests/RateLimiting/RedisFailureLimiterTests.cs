using Gateway.RateLimiting;
using Gateway.Redis;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.FunctionalTests.RateLimiting;

/// <summary>The failure limiter's counters through a real Redis, shared by replicas.</summary>
public sealed class RedisFailureLimiterTests
{
    [Fact]
    public async Task RedisCounters_AreSharedByReplicas_WithTheSameRules()
    {
        var prefix = "test-" + Guid.NewGuid().ToString("N") + ":";
        var connections = new List<RedisConnection>();
        var limiters = new List<FailureLimiter>();
        for (var i = 0; i < 2; i++)
        {
            var connection = new RedisConnection(new RedisOptions { Configuration = TestServices.Redis, KeyPrefix = prefix }, NullLogger<RedisConnection>.Instance);
            await connection.ConnectAsync(null);
            Assert.True(connection.IsUsable);
            connections.Add(connection);
            limiters.Add(new FailureLimiter(connection, TimeProvider.System, NullLogger<FailureLimiter>.Instance));
        }

        try
        {
            var slow = new FailureRule(3, 60, 600, 3600);
            var account = new FailureKey("u:shared", slow, ForgetOnSuccess: true);
            var address = new FailureKey("a:shared", new FailureRule(100, 60, 600, 3600), ForgetOnSuccess: false);
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(0, await limiters[i % 2].TryBeginAsync(address, account));
            }

            Assert.InRange(await limiters[0].TryBeginAsync(address, account), 59, 60);
            Assert.InRange(await limiters[1].TryBeginAsync(address, account), 59, 60);

            // A success through either replica forgets the account's failures for both.
            await limiters[1].SucceededAsync(address, account);
            Assert.Equal(0, await limiters[0].TryBeginAsync(address, account));
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
