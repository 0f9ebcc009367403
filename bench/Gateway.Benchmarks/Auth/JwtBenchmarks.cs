using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Gateway.Auth;

namespace Gateway.Benchmarks.Auth;

/// <summary>
/// The access-token codec on its own: a token already validated (the authenticator's cache,
/// the hot path: target at most 0.5 µs and 0 B), a full validation (a token not seen before:
/// header, key, signature, issuer, audience, claims, lifetime) and issuing one (log-in and refresh).
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class JwtBenchmarks
{
    private JwtCodec _codec = null!;
    private Authenticator _authenticator = null!;
    private string _authorization = null!;
    private string _token = null!;
    private AccessClaims _claims;

    [GlobalSetup]
    public void Setup()
    {
        var ring = new SigningKeyRing([new SigningKey("k1", RandomNumberGenerator.GetBytes(32))]);
        _codec = new JwtCodec(ring, "inference-gateway", "inference-gateway", 30);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        _claims = new AccessClaims(7, "bench", Role.Worker, "jti-bench", "sid", 0, now, now, now + 3600);
        _token = _codec.Issue(_claims);
        _authorization = "Bearer " + _token;
        _authenticator = new Authenticator(_codec, new RevocationList(), feed: null, store: null, TimeProvider.System, new AuthOptions());
        if (!CachedValidate())
        {
            throw new InvalidOperationException("the benchmark's token does not validate");
        }
    }

    [Benchmark(Baseline = true, Description = "cached token (authenticator)")]
    public bool CachedValidate()
    {
        // A JWT always completes synchronously.
        var pending = _authenticator.AuthenticateAsync(_authorization, null, CancellationToken.None);
        return pending.IsCompletedSuccessfully && pending.Result.Succeeded;
    }

    [Benchmark(Description = "cold validation (codec)")]
    public int ColdValidate() => (int)_codec.Validate(_token, DateTimeOffset.UtcNow.ToUnixTimeSeconds(), out _);

    [Benchmark(Description = "issue")]
    public int Issue() => _codec.Issue(_claims).Length;
}
