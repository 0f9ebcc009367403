using System.Net;
using System.Security.Cryptography;
using Gateway.Auth;
using Gateway.RateLimiting;
using Gateway.Redis;
using Gateway.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.Auth;

/// <summary>
/// API keys not seen before: refused ones are remembered, a key's record answers other secrets,
/// and lookups are limited per address. Whether the store is asked shows by marking it down:
/// a lookup then answers 503, memory answers 401.
/// </summary>
public sealed class ApiKeyLookupTests : IAsyncLifetime
{
    private readonly string _directory = Directory.CreateTempSubdirectory().FullName;
    private readonly FakeTimeProvider _time = new(DateTimeOffset.FromUnixTimeSeconds(1_800_000_000));
    private SqliteAuthStore _store = null!;
    private Authenticator _authenticator = null!;
    private long _keyId;

    public async Task InitializeAsync()
    {
        _store = new SqliteAuthStore(Path.Combine(_directory, "keys.db"), TimeProvider.System);
        await _store.MigrateAsync(default);
        var (_, hash) = Authenticator.NewKeySecret();
        _keyId = (await _store.CreateApiKeyAsync(new ApiKeyRecord { Name = "k", SecretHash = hash, Role = "worker", CreatedAt = 1 }, default)).Id;
        var limits = new RateLimitOptions { KeyLookupsPerAddress = new RateRule(1, 5) };
        var limiter = new RateLimiter(new RedisConnection(new RedisOptions(), NullLogger<RedisConnection>.Instance), _time, NullLogger<RateLimiter>.Instance);
        var codec = new JwtCodec(new SigningKeyRing([new SigningKey("k1", RandomNumberGenerator.GetBytes(32))]), "iss", "aud", 30);
        _authenticator = new Authenticator(codec, new RevocationList(), feed: null, _store, _time, new AuthOptions(), limiter, limits);
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private static string Secret() => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    private async Task<AuthResult> KeyAsync(string key, string from = "10.0.0.1") =>
        await _authenticator.AuthenticateAsync(null, key, IPAddress.Parse(from), default);

    [Fact]
    public async Task RefusedKey_IsAnsweredFromMemory_UntilItIsForgotten()
    {
        var wrong = Authenticator.FormatKey(_keyId, Secret());
        Assert.Equal(401, (await KeyAsync(wrong)).Status);
        _store.Health.ReportFailure("down for the test");

        // From memory: the refused text, and another secret for the same id (its record).
        Assert.Equal(401, (await KeyAsync(wrong)).Status);
        Assert.Equal(401, (await KeyAsync(Authenticator.FormatKey(_keyId, Secret()))).Status);

        // A minute on, the record is forgotten: another secret needs the store.
        _time.Advance(Authenticator.RecordFor);
        Assert.Equal(503, (await KeyAsync(Authenticator.FormatKey(_keyId, Secret()))).Status);
        Assert.Equal(401, (await KeyAsync(wrong)).Status);

        // Ten minutes on, the refused text is forgotten too.
        _time.Advance(Authenticator.RefusedFor);
        Assert.Equal(503, (await KeyAsync(wrong)).Status);
    }

    [Fact]
    public async Task LookupsOfUnseenKeys_AreLimitedPerAddress_BeforeTheStore()
    {
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(401, (await KeyAsync(Authenticator.FormatKey(1000 + i, Secret()))).Status);
        }

        var limited = await KeyAsync(Authenticator.FormatKey(2000, Secret()));
        Assert.Equal(429, limited.Status);
        Assert.Equal(1, limited.RetryAfterSeconds);

        // Another address has its own budget; a second later this one has one more lookup.
        Assert.Equal(401, (await KeyAsync(Authenticator.FormatKey(3000, Secret()), from: "10.0.0.2")).Status);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(401, (await KeyAsync(Authenticator.FormatKey(4000, Secret()))).Status);
        Assert.Equal(429, (await KeyAsync(Authenticator.FormatKey(4001, Secret()))).Status);
    }
}
