using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Gateway.Storage;

namespace Gateway.Auth;

/// <summary>Why credentials were not accepted (the HTTP layer picks the status code).</summary>
internal enum AuthFailure
{
    None,

    /// <summary>Missing, malformed, expired, revoked or unknown credentials.</summary>
    Unauthenticated,

    /// <summary>Too many lookups of unknown API keys from one address: try again later.</summary>
    TooManyAttempts,

    /// <summary>A dependency (the store, the revocation feed) cannot answer now.</summary>
    Unavailable,
}

/// <summary>The outcome of checking a request's credentials.</summary>
internal readonly struct AuthResult
{
    private AuthResult(Caller? caller, AuthFailure failure, string? error, int retryAfterSeconds = 0)
    {
        Caller = caller;
        Failure = failure;
        Error = error;
        RetryAfterSeconds = retryAfterSeconds;
    }

    /// <summary>The caller when the credentials were good.</summary>
    public Caller? Caller { get; }

    /// <summary><see cref="AuthFailure.None"/> when the credentials were good.</summary>
    public AuthFailure Failure { get; }

    public string? Error { get; }

    /// <summary>For <see cref="AuthFailure.TooManyAttempts"/>: when to try again.</summary>
    public int RetryAfterSeconds { get; }

    public bool Succeeded => Caller is not null;

    public static AuthResult Success(Caller caller) => new(caller, AuthFailure.None, null);

    public static AuthResult Unauthorized(string error) => new(null, AuthFailure.Unauthenticated, error);

    public static AuthResult Unavailable(string error) => new(null, AuthFailure.Unavailable, error);

    public static AuthResult TooMany(string error, int retryAfterSeconds) => new(null, AuthFailure.TooManyAttempts, error, retryAfterSeconds);
}

/// <summary>
/// Turns the credentials of a request into a <see cref="Caller"/>: an access token
/// (<c>Authorization: Bearer &lt;JWT&gt;</c>) or an API key (<c>Authorization: Bearer gk_…</c>
/// or <c>X-API-Key: gk_…</c>).
/// </summary>
/// <remarks>
/// PERF: a credential is validated once (signature, claims, or the key's hash from the store)
/// and its <see cref="Caller"/> is cached under the credential's exact text. Later requests
/// look the text up through the dictionary's span lookup (no substring), compare the expiry
/// with the clock and ask the in-memory deny set: no allocation, no crypto, no I/O
/// (bench/Gateway.Benchmarks/Auth/AuthenticationBenchmarks.cs). Caching by exact text is safe:
/// a token differing by one character is a different key and is validated in full.
/// <para>
/// API keys not seen before need the store. So that a flood of made-up keys does not reach it
/// on every attempt: a key refused once is remembered as refused (its exact text; a random
/// 256-bit secret cannot become valid later); a key's record, once read, answers other secrets
/// for the same id from memory for a minute; and lookups are limited per client address before
/// any of that (<c>RateLimit:KeyLookupsPerAddress</c>), 429 beyond.
/// </para>
/// </remarks>
internal sealed class Authenticator
{
    /// <summary>Every API key starts with this, so it is told apart from a JWT at a glance.</summary>
    public const string ApiKeyPrefix = "gk_";

    private readonly JwtCodec _jwt;
    private readonly RevocationList _revocations;
    private readonly RevocationService? _feed;
    private readonly IAuthStore? _store;
    private readonly TimeProvider _time;
    private readonly AuthOptions _options;
    private readonly ConcurrentDictionary<string, Caller> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Caller>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly RateLimiting.RateLimiter? _limiter;
    private readonly RateLimiting.RateLimitOptions? _limits;
    private readonly ConcurrentDictionary<string, long> _refused = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<long, (ApiKeyRecord Record, long Until)> _records = new();
    private int _cached;

    /// <summary>How long a refused key's text is answered from memory.</summary>
    internal static readonly TimeSpan RefusedFor = TimeSpan.FromMinutes(10);

    /// <summary>How long a key's record answers other secrets for its id from memory (revocation goes through the deny set meanwhile).</summary>
    internal static readonly TimeSpan RecordFor = TimeSpan.FromMinutes(1);

    private const int MaxRemembered = 100_000;

    public Authenticator(
        JwtCodec jwt,
        RevocationList revocations,
        RevocationService? feed,
        IAuthStore? store,
        TimeProvider time,
        AuthOptions options,
        RateLimiting.RateLimiter? limiter = null,
        RateLimiting.RateLimitOptions? limits = null)
    {
        _jwt = jwt;
        _revocations = revocations;
        _feed = feed;
        _store = store;
        _time = time;
        _options = options;
        _limiter = limiter;
        _limits = limits;
        _lookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        jwt.Keys.Changed += ClearCache;
    }

    /// <summary>Validated credentials held now.</summary>
    public int CachedCount => Volatile.Read(ref _cached);

    /// <summary>Forgets every validated credential (the signing keys changed).</summary>
    public void ClearCache()
    {
        _cache.Clear();
        Volatile.Write(ref _cached, 0);
    }

    /// <summary>
    /// Checks the request's credentials. Completes synchronously for any JWT and for API keys
    /// already seen; only a first-seen API key waits for the store.
    /// </summary>
    public ValueTask<AuthResult> AuthenticateAsync(string? authorization, string? apiKey, CancellationToken cancellationToken) =>
        AuthenticateAsync(authorization, apiKey, null, cancellationToken);

    /// <inheritdoc cref="AuthenticateAsync(string?, string?, CancellationToken)"/>
    /// <param name="client">The client's address: lookups of API keys not seen before are limited per address.</param>
    public ValueTask<AuthResult> AuthenticateAsync(string? authorization, string? apiKey, System.Net.IPAddress? client, CancellationToken cancellationToken)
    {
        ReadOnlySpan<char> credential;
        if (authorization is not null)
        {
            if (authorization.Length < 8 || !authorization.AsSpan(0, 7).Equals("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                return new(AuthResult.Unauthorized("the Authorization header must be 'Bearer <token or API key>'"));
            }

            credential = authorization.AsSpan(7).Trim(' ');
        }
        else if (apiKey is not null)
        {
            credential = apiKey.AsSpan().Trim(' ');
        }
        else
        {
            return new(AuthResult.Unauthorized("credentials are required: send 'Authorization: Bearer <token>' or 'X-API-Key: <key>'"));
        }

        if (_feed is not null && !_feed.Healthy && _options.FailClosed)
        {
            return new(AuthResult.Unavailable("revocations cannot be checked right now (Redis is unavailable); try again shortly"));
        }

        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        if (_lookup.TryGetValue(credential, out var caller))
        {
            return new(Check(caller, now));
        }

        if (credential.StartsWith(ApiKeyPrefix, StringComparison.Ordinal))
        {
            return ValidateKeyAsync(credential.ToString(), client, cancellationToken);
        }

        return new(ValidateToken(credential, now));
    }

    private AuthResult Check(Caller caller, long now)
    {
        if (now - _options.ClockSkewSeconds >= caller.ExpiresAt)
        {
            return AuthResult.Unauthorized(JwtCodec.Describe(TokenStatus.Expired));
        }

        if (_revocations.IsRevoked(caller))
        {
            return AuthResult.Unauthorized(caller.Kind == CallerKind.ApiKey ? "the API key has been revoked" : JwtCodec.Describe(TokenStatus.Revoked));
        }

        return AuthResult.Success(caller);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private AuthResult ValidateToken(ReadOnlySpan<char> token, long now)
    {
        var status = _jwt.Validate(token, now, out var claims);
        if (status != TokenStatus.Valid)
        {
            return AuthResult.Unauthorized(JwtCodec.Describe(status));
        }

        var caller = Caller.ForUser(claims);
        Remember(token.ToString(), caller);
        return Check(caller, now);
    }

    private async ValueTask<AuthResult> ValidateKeyAsync(string key, System.Net.IPAddress? client, CancellationToken cancellationToken)
    {
        const string invalid = "the API key is invalid";
        if (_store is null || !TryParseKey(key, out var id, out var hash))
        {
            return AuthResult.Unauthorized(invalid);
        }

        var now = _time.GetTimestamp();
        if (_refused.TryGetValue(key, out var refusedUntil) && now < refusedUntil)
        {
            return AuthResult.Unauthorized(invalid);
        }

        ApiKeyRecord? record;
        if (_records.TryGetValue(id, out var remembered) && now < remembered.Until)
        {
            record = remembered.Record;
        }
        else
        {
            if (_limiter is not null && _limits is { Enabled: true })
            {
                var address = client?.ToString() ?? "unknown";
                var decision = await _limiter.AcquireAsync("keys:a:" + address, _limits.KeyLookupsPerAddress);
                if (!decision.Allowed)
                {
                    return AuthResult.TooMany(
                        $"too many API keys not seen before from this address; retry in {decision.RetryAfterSeconds} s", decision.RetryAfterSeconds);
                }
            }

            try
            {
                record = await _store.FindApiKeyAsync(id, cancellationToken);
            }
            catch (StoreUnavailableException ex)
            {
                // Keys seen before are cached and keep working; a new one cannot be checked now.
                return AuthResult.Unavailable(ex.Message);
            }

            if (record is not null)
            {
                Bound(_records);
                _records[id] = (record, now + Ticks(RecordFor));
            }
        }

        if (record is null
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(record.SecretHash), Encoding.ASCII.GetBytes(hash))
            || !Roles.TryParse(record.Role.AsSpan(), out var role))
        {
            Bound(_refused);
            _refused[key] = now + Ticks(RefusedFor);
            return AuthResult.Unauthorized(invalid);
        }

        if (record.RevokedAt is not null)
        {
            _revocations.RevokeKey(record.Id);
            return AuthResult.Unauthorized("the API key has been revoked");
        }

        var caller = new Caller
        {
            Kind = CallerKind.ApiKey,
            Id = record.Id,
            Name = record.Name,
            Role = role,
            RateKey = "k:" + record.Id.ToString(CultureInfo.InvariantCulture),
            RateLimit = record.RatePerSecond is { } rate && record.RateBurst is { } burst ? new RateLimiting.RateRule(rate, burst) : null,
        };
        Remember(key, caller);
        return Check(caller, _time.GetUtcNow().ToUnixTimeSeconds());
    }

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    /// <summary>Bounded memory: a full table starts over (a forgotten entry costs one more lookup, under the per-address limit).</summary>
    private static void Bound<TKey, TValue>(ConcurrentDictionary<TKey, TValue> table)
        where TKey : notnull
    {
        if (table.Count >= MaxRemembered)
        {
            table.Clear();
        }
    }

    /// <summary>Caches a validated credential (internal for the benchmarks, which seed an API key).</summary>
    internal void Remember(string credential, Caller caller)
    {
        if (Interlocked.Increment(ref _cached) > _options.TokenCacheSize)
        {
            // Rare and cheap: entries are re-validated on their next use.
            ClearCache();
            Interlocked.Increment(ref _cached);
        }

        _cache[credential] = caller;
    }

    /// <summary>Drops cached credentials that have expired.</summary>
    public void PurgeExpired()
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        foreach (var entry in _cache)
        {
            if (now - _options.ClockSkewSeconds >= entry.Value.ExpiresAt && _cache.TryRemove(entry))
            {
                Interlocked.Decrement(ref _cached);
            }
        }
    }

    /// <summary>A fresh random secret part and its hash, before the id is known.</summary>
    public static (string Secret, string Hash) NewKeySecret()
    {
        var secret = System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        return (secret, HashSecret(secret));
    }

    public static string FormatKey(long id, string secret) => ApiKeyPrefix + id.ToString(CultureInfo.InvariantCulture) + "_" + secret;

    /// <summary>SHA-256 is enough for a 256-bit random secret: there is nothing to guess.</summary>
    public static string HashSecret(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static bool TryParseKey(string key, out long id, out string hash)
    {
        id = 0;
        hash = string.Empty;
        var rest = key.AsSpan(ApiKeyPrefix.Length);
        var underscore = rest.IndexOf('_');
        if (underscore <= 0 || underscore == rest.Length - 1 || key.Length > 256
            || !long.TryParse(rest[..underscore], NumberStyles.None, CultureInfo.InvariantCulture, out id))
        {
            return false;
        }

        hash = HashSecret(rest[(underscore + 1)..].ToString());
        return true;
    }
}
