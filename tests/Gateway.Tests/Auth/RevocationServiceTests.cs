using Gateway.Auth;
using Gateway.Redis;
using Gateway.Storage;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Auth;

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
}
