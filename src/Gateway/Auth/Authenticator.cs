using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using Gateway.Storage;

namespace Gateway.Auth;

/// <summary>The outcome of checking a request's credentials.</summary>
internal readonly struct AuthResult
{
    private AuthResult(Caller? caller, int status, string? error)
    {
        Caller = caller;
        Status = status;
        Error = error;
    }

    /// <summary>The caller when the credentials were good.</summary>
    public Caller? Caller { get; }

    /// <summary>401, 503 or 200.</summary>
    public int Status { get; }

    public string? Error { get; }

    public bool Succeeded => Caller is not null;

    public static AuthResult Success(Caller caller) => new(caller, StatusCodes.Status200OK, null);

    public static AuthResult Unauthorized(string error) => new(null, StatusCodes.Status401Unauthorized, error);

    public static AuthResult Unavailable(string error) => new(null, StatusCodes.Status503ServiceUnavailable, error);
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
    private int _cached;

    public Authenticator(JwtCodec jwt, RevocationList revocations, RevocationService? feed, IAuthStore? store, TimeProvider time, AuthOptions options)
    {
        _jwt = jwt;
        _revocations = revocations;
        _feed = feed;
        _store = store;
        _time = time;
        _options = options;
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
    public ValueTask<AuthResult> AuthenticateAsync(string? authorization, string? apiKey, CancellationToken cancellationToken)
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
            return ValidateKeyAsync(credential.ToString(), cancellationToken);
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

    private async ValueTask<AuthResult> ValidateKeyAsync(string key, CancellationToken cancellationToken)
    {
        if (_store is null || !TryParseKey(key, out var id, out var hash))
        {
            return AuthResult.Unauthorized("the API key is invalid");
        }

        ApiKeyRecord? record;
        try
        {
            record = await _store.FindApiKeyAsync(id, cancellationToken);
        }
        catch (StoreUnavailableException ex)
        {
            // Keys seen before are cached and keep working; a new one cannot be checked now.
            return AuthResult.Unavailable(ex.Message);
        }

        if (record is null
            || !CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(record.SecretHash), Encoding.ASCII.GetBytes(hash))
            || !Roles.TryParse(record.Role.AsSpan(), out var role))
        {
            return AuthResult.Unauthorized("the API key is invalid");
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
