using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Gateway.Auth;
using Gateway.RateLimiting;
using Gateway.Redis;
using Gateway.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks.Auth;

/// <summary>
/// What authentication adds to a request: the auth middleware in front of an endpoint that
/// does nothing, on one reused <see cref="DefaultHttpContext"/>. <see cref="OpenEndpoint"/> is
/// the baseline (routing metadata read, no credential); the difference to
/// <see cref="CachedJwt"/> is the cost of checking a valid access token already seen
/// (docs/PERFORMANCE.md, target: at most 5 µs and no allocation).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class AuthenticationBenchmarks
{
    private readonly DefaultHttpContext _open = new();
    private readonly DefaultHttpContext _jwt = new();
    private readonly DefaultHttpContext _key = new();
    private readonly DefaultHttpContext _limited = new();
    private AuthMiddleware _middleware = null!;
    private GatewayMetrics _metrics = null!;
    private AuthMiddleware _limitedMiddleware = null!;
    private JwtCodec _codec = null!;
    private string _token = null!;

    [GlobalSetup]
    public void Setup()
    {
        var ring = new SigningKeyRing([new SigningKey("k1", RandomNumberGenerator.GetBytes(32))]);
        _codec = new JwtCodec(ring, "inference-gateway", "inference-gateway", 30);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _token = _codec.Issue(new AccessClaims(7, "bench", Role.Worker, "jti-bench", "sid", 0, now, now, now + 3600));
        var options = new AuthOptions();
        var authenticator = new Authenticator(_codec, new RevocationList(), feed: null, store: null, TimeProvider.System, options);
        var limiter = new RateLimiter(new RedisConnection(new RedisOptions(), NullLogger<RedisConnection>.Instance), TimeProvider.System, NullLogger<RateLimiter>.Instance);
        RequestDelegate endpoint = static _ => Task.CompletedTask;
        _metrics = new GatewayMetrics(new TelemetryOptions(), NullLogger<GatewayMetrics>.Instance);
        _middleware = new AuthMiddleware(endpoint, authenticator, limiter, new RateLimitOptions { Enabled = false }, options, _metrics, NullLogger<AuthMiddleware>.Instance);
        // A bucket that refills faster than the benchmark drains it: this measures taking a token,
        // not the 429 path. The burst is a realistic size (header values up to 4096 are interned).
        var limits = new RateLimitOptions();
        limits.SetRole(Role.Worker, new RateRule(1e9, 2000));
        _limitedMiddleware = new AuthMiddleware(endpoint, authenticator, limiter, limits, options, _metrics, NullLogger<AuthMiddleware>.Instance);

        var worker = new Endpoint(endpoint, new EndpointMetadataCollection(new EndpointSpec(Permission.Infer, RateClass.Caller, "infer", null)), "infer");
        _open.SetEndpoint(new Endpoint(endpoint, new EndpointMetadataCollection(new EndpointSpec(EndpointAccess.Open, RateClass.None, "live", null)), "live"));
        _jwt.SetEndpoint(worker);
        _jwt.Request.Headers.Authorization = "Bearer " + _token;
        _limited.SetEndpoint(worker);
        _limited.Request.Headers.Authorization = "Bearer " + _token;
        _key.SetEndpoint(worker);

        // An API key already seen: put its caller in the cache the way a first request would.
        var key = "gk_1_" + new string('k', 43);
        _key.Request.Headers["X-API-Key"] = key;
        authenticator.Remember(key, new Caller { Kind = CallerKind.ApiKey, Id = 1, Name = "bench key", Role = Role.Worker, RateKey = "k:1" });

        // Warm every path once so the benchmarks measure the steady state.
        _middleware.InvokeAsync(_jwt).GetAwaiter().GetResult();
        _middleware.InvokeAsync(_key).GetAwaiter().GetResult();
        _limitedMiddleware.InvokeAsync(_limited).GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true, Description = "open endpoint (no credential)")]
    public Task OpenEndpoint() => _middleware.InvokeAsync(_open);

    [Benchmark(Description = "cached JWT, worker endpoint")]
    public Task CachedJwt() => _middleware.InvokeAsync(_jwt);

    [Benchmark(Description = "cached API key (X-API-Key)")]
    public Task CachedApiKey() => _middleware.InvokeAsync(_key);

    [Benchmark(Description = "cached JWT + in-process rate limit")]
    public Task CachedJwtWithLocalRateLimit() => _limitedMiddleware.InvokeAsync(_limited);

    [Benchmark(Description = "full JWT validation (cache miss)")]
    public int FullValidation() => (int)_codec.Validate(_token, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), out _);
}
