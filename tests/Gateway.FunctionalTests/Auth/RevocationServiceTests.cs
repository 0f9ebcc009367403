using System.Diagnostics;
using Gateway.Auth;
using Gateway.Redis;
using Gateway.Storage;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.FunctionalTests.Auth;

/// <summary>The revocation feed against a Redis of the test's own that stops answering.</summary>
public sealed class RevocationServiceTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory().FullName;
    private readonly RedisProcess _server = new();
    private SqliteAuthStore _store = null!;
    private RedisConnection _redis = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteAuthStore(Path.Combine(_directory, "gateway.db"), TimeProvider.System);
        await _store.MigrateAsync(default);
        _redis = new RedisConnection(new RedisOptions { Configuration = _server.Configuration }, NullLogger<RedisConnection>.Instance);
        await _redis.ConnectAsync(null);
    }

    public async Task DisposeAsync()
    {
        _server.Resume();
        await _redis.DisposeAsync();
        await _store.DisposeAsync();
        _server.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>
    /// Logout saves the revocation, then publishes it. A publish that times out (paused Redis:
    /// RedisTimeoutException) must not turn the saved revocation into an error for the caller.
    /// </summary>
    [Fact]
    public async Task RevokeToken_WithPausedRedis_SavesAndDoesNotThrow()
    {
        var list = new RevocationList();
        var service = new RevocationService(_store, list, _redis, new AuthOptions(), TimeProvider.System, NullLogger<RevocationService>.Instance);
        _server.Pause();
        var expires = DateTimeOffset.UtcNow.AddMinutes(10).ToUnixTimeSeconds();
        await service.RevokeTokenAsync("paused-jti", expires, default);
        Assert.Contains(await _store.ListRevokedTokensAsync(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), default), t => t.Jti == "paused-jti");
        Assert.True(list.IsRevoked(new Caller { Kind = CallerKind.User, Id = 1, Name = "n", Role = Role.Viewer, RateKey = "u:1", Jti = "paused-jti" }));
    }

    /// <summary>
    /// A command elsewhere that timed out (the rate limiter's, on a busy machine) marks Redis
    /// unresponsive until the next PING. While the subscription stays connected nothing published
    /// is lost, so the feed must stay trusted: losing it refused every authenticated request
    /// (fail closed) until a reload from the store, and with PostgreSQL down, until it returned.
    /// </summary>
    [Fact]
    public async Task OneTimedOutCommand_DoesNotLoseTheFeed()
    {
        var service = new RevocationService(_store, new RevocationList(), _redis, new AuthOptions(), TimeProvider.System, NullLogger<RevocationService>.Instance);
        await service.StartAsync(default);
        try
        {
            Assert.True(service.Healthy);
            // The service's first PING goes at its first tick (200 ms), the next a second later:
            // until then its probe answers from the last one, which the timed-out command overrode.
            await Task.Delay(300);
            _redis.ReportUnresponsive();
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < RedisConnection.ProbeInterval * 3)
            {
                Assert.True(service.Healthy, $"the feed was lost {clock.ElapsedMilliseconds} ms after one timed-out command");
                await Task.Delay(20);
            }

            Assert.True(_redis.IsUsable, "a PING should have answered by now");
        }
        finally
        {
            await service.StopAsync(default);
        }
    }

    /// <summary>A Redis that answers nothing (paused) loses the feed after the patience, and it comes back by itself.</summary>
    [Fact]
    public async Task PausedRedis_LosesTheFeedAfterThePatience_AndRecovers()
    {
        var service = new RevocationService(_store, new RevocationList(), _redis, new AuthOptions(), TimeProvider.System, NullLogger<RevocationService>.Instance);
        await service.StartAsync(default);
        try
        {
            _server.Pause();
            var clock = Stopwatch.StartNew();
            while (service.Healthy && clock.Elapsed < TimeSpan.FromSeconds(15))
            {
                await Task.Delay(20);
            }

            var lostAfter = clock.Elapsed;
            Assert.False(service.Healthy, "a paused Redis never lost the feed");
            Assert.True(lostAfter >= RevocationService.UnansweredPatience, $"lost after {lostAfter.TotalMilliseconds:F0} ms, before the patience");
            Assert.NotNull(service.NotReadyReason);

            _server.Resume();
            clock.Restart();
            while (!service.Healthy && clock.Elapsed < TimeSpan.FromSeconds(15))
            {
                await Task.Delay(20);
            }

            Assert.True(service.Healthy, "the feed did not come back after Redis resumed");
        }
        finally
        {
            _server.Resume();
            await service.StopAsync(default);
        }
    }

    /// <summary>
    /// Issue 11: the maintenance pass purged with the time in milliseconds while revoked tokens'
    /// expiry was kept in seconds, so every revocation vanished from the store at the next pass
    /// and a replica started afterwards accepted tokens that had been logged out.
    /// </summary>
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task RevokedToken_SurvivesAMaintenancePass_ForAReplicaStartedAfter(string kind)
    {
        await using IAuthStore store = kind == "sqlite"
            ? new SqliteAuthStore(Path.Combine(_directory, "persist.db"), TimeProvider.System)
            : new PostgresAuthStore(await TestServices.CreatePostgresDatabaseAsync(), null, TimeProvider.System);
        await store.MigrateAsync(default);
        var single = new RedisConnection(new RedisOptions(), NullLogger<RedisConnection>.Instance);
        var now = DateTimeOffset.UtcNow;
        var first = new RevocationService(store, new RevocationList(), single, new AuthOptions(), TimeProvider.System, NullLogger<RevocationService>.Instance);
        await first.RevokeTokenAsync("logged-out", now.AddMinutes(10).ToUnixTimeSeconds(), default);
        await first.RevokeTokenAsync("long-expired", now.AddMinutes(-10).ToUnixTimeSeconds(), default);

        // The maintenance pass, as RevocationService runs it every Auth:RevocationResyncSeconds.
        await store.PurgeExpiredAsync(now.ToUnixTimeMilliseconds(), default);

        var later = new RevocationList();
        await new RevocationService(store, later, single, new AuthOptions(), TimeProvider.System, NullLogger<RevocationService>.Instance).ResyncAsync(default);
        Assert.True(later.IsRevoked(UserWithJti("logged-out")), "the revocation was purged before the token expired");
        Assert.False(later.IsRevoked(UserWithJti("long-expired")));
        Assert.Equal(1, later.TokenCount);
    }

    private static Caller UserWithJti(string jti) => new() { Kind = CallerKind.User, Id = 1, Name = "n", Role = Role.Viewer, RateKey = "u:1", Jti = jti };
}
