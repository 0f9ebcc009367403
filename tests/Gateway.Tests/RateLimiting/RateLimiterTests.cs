using Gateway.RateLimiting;
using Gateway.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.RateLimiting;

public sealed class RateLimiterTests
{
    [Fact]
    public async Task LocalBucket_BurstThenRefusal_ThenRefillWithTime()
    {
        var time = new FakeTimeProvider();
        var limiter = new RateLimiter(new RedisConnection(new RedisOptions(), NullLogger<RedisConnection>.Instance), time, NullLogger<RateLimiter>.Instance);
        var rule = new RateRule(2, 3);
        for (var i = 0; i < 3; i++)
        {
            Assert.True((await limiter.AcquireAsync("u:1", rule)).Allowed);
        }

        var refused = await limiter.AcquireAsync("u:1", rule);
        Assert.False(refused.Allowed);
        Assert.Equal(1, refused.RetryAfterSeconds);
        Assert.Equal(3, refused.Limit);
        Assert.True((await limiter.AcquireAsync("u:2", rule)).Allowed);

        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True((await limiter.AcquireAsync("u:1", rule)).Allowed);
        Assert.False((await limiter.AcquireAsync("u:1", rule)).Allowed);
    }
}
