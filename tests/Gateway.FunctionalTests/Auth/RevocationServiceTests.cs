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
