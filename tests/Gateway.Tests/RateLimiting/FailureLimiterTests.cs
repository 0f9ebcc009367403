using Gateway.RateLimiting;
using Gateway.Redis;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.RateLimiting;

/// <summary>Failures, not attempts: backoff that doubles, forgetting, refunds, (the same rules through Redis: Gateway.FunctionalTests).</summary>
public sealed class FailureLimiterTests
{
    private static readonly FailureRule s_account = new(3, 1, 8, 60);
    private static readonly FailureRule s_address = new(5, 1, 8, 60);

    private static FailureKey Account(string name = "u:victim") => new(name, s_account, ForgetOnSuccess: true);

    private static FailureKey Address(string address = "a:1") => new(address, s_address, ForgetOnSuccess: false);

    private static FailureLimiter Local(TimeProvider time) =>
        new(new RedisConnection(new RedisOptions(), NullLogger<RedisConnection>.Instance), time, NullLogger<FailureLimiter>.Instance);

    [Fact]
    public async Task Failures_ThenBackoffThatDoubles_UpToTheCap()
    {
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
        var limiter = Local(time);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(0, await limiter.TryBeginAsync(Address(), Account()));
        }

        // Three failures charged: locked for 1 s, and a refused attempt charges nothing.
        Assert.Equal(1, await limiter.TryBeginAsync(Address(), Account()));
        Assert.Equal(1, await limiter.TryBeginAsync(Address(), Account()));
        var waits = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            time.Advance(TimeSpan.FromSeconds(waits.Count == 0 ? 1 : waits[^1]));
            Assert.Equal(0, await limiter.TryBeginAsync(Address(), Account()));
            waits.Add(await limiter.TryBeginAsync(Address(), Account()));
        }

        Assert.Equal([2, 4, 8, 8, 8, 8], waits);
    }

    [Fact]
    public async Task FailuresAreForgotten_AfterAQuietPeriod()
    {
        var time = new FakeTimeProvider();
        var limiter = Local(time);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(0, await limiter.TryBeginAsync(Address(), Account()));
        }

        time.Advance(TimeSpan.FromSeconds(61));
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(0, await limiter.TryBeginAsync(Address(), Account()));
        }

        // Only two failures count since the quiet minute: one more is still free.
        Assert.Equal(0, await limiter.TryBeginAsync(Address(), Account()));
        Assert.Equal(1, await limiter.TryBeginAsync(Address(), Account()));
    }

    [Fact]
    public async Task Success_ForgetsTheAccount_AndRefundsOnlyItsOwnChargeToTheAddress()
    {
        var time = new FakeTimeProvider();
        var limiter = Local(time);

        // Four failures from one address against other accounts...
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(0, await limiter.TryBeginAsync(Address(), Account("u:other-" + i)));
        }

        // ...then its own successful logins, as many as it likes: each is refunded.
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(0, await limiter.TryBeginAsync(Address(), Account("u:mine")));
            await limiter.SucceededAsync(Address(), Account("u:mine"));
        }

        // The address still has its four failures: the fifth locks it.
        Assert.Equal(0, await limiter.TryBeginAsync(Address(), Account("u:other-5")));
        Assert.Equal(1, await limiter.TryBeginAsync(Address(), Account("u:other-6")));
    }

    [Fact]
    public async Task ConcurrentGuesses_CannotSlipPastTheThreshold()
    {
        var limiter = Local(new FakeTimeProvider());
        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => limiter.TryBeginAsync(Address("a:" + i), Account()).AsTask()));
        Assert.Equal(3, answers.Count(a => a == 0));
    }
}
