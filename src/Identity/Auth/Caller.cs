using System.Globalization;
using System.Security.Claims;

namespace Gateway.Auth;

/// <summary>What authenticated a request.</summary>
internal enum CallerKind
{
    User,
    ApiKey,

    /// <summary><c>Auth:Mode=none</c>: no credentials were checked.</summary>
    Unauthenticated,
}

/// <summary>
/// The authenticated caller of a request. One instance per validated token or key, cached with
/// it, so a request that presents a known credential allocates nothing to learn who it is.
/// Endpoints read it with <c>HttpContext.GetCaller()</c> (src/Gateway/Auth/CallerExtensions.cs).
/// </summary>
internal sealed class Caller
{
    /// <summary>The caller when authentication is switched off: everything is allowed.</summary>
    public static readonly Caller Unauthenticated = new()
    {
        Kind = CallerKind.Unauthenticated,
        Name = "anonymous",
        Role = Role.Admin,
        RateKey = "anonymous",
    };

    public required CallerKind Kind { get; init; }

    /// <summary>The user id or API key id.</summary>
    public long Id { get; init; }

    /// <summary>The username or the API key's name.</summary>
    public required string Name { get; init; }

    public required Role Role { get; init; }

    /// <summary>The access token's id (users only).</summary>
    public string? Jti { get; init; }

    /// <summary>The refresh-token family the access token belongs to (users only).</summary>
    public string? SessionId { get; init; }

    /// <summary>The user's token generation when the token was issued.</summary>
    public long Generation { get; init; }

    /// <summary>Unix seconds after which the credential is no longer accepted.</summary>
    public long ExpiresAt { get; init; } = long.MaxValue;

    /// <summary>The rate-limit bucket: <c>u:ID</c> or <c>k:ID</c>.</summary>
    public required string RateKey { get; init; }

    /// <summary>Per-key override of the role's rate limit.</summary>
    public RateLimiting.RateRule? RateLimit { get; init; }

    private ClaimsPrincipal? _principal;

    /// <summary>
    /// The caller as a <see cref="ClaimsPrincipal"/> (<c>HttpContext.User</c>): name, role, the
    /// user or key id and how it authenticated.
    /// </summary>
    /// <remarks>
    /// PERF: built on first use and kept with the caller, which is cached with its credential, so
    /// requests that present a known credential get the same principal without allocating.
    /// </remarks>
    public ClaimsPrincipal Principal => _principal ?? Interlocked.CompareExchange(ref _principal, CreatePrincipal(), null) ?? _principal!;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private ClaimsPrincipal CreatePrincipal()
    {
        if (Kind == CallerKind.Unauthenticated)
        {
            // Authentication is off: an identity without an authentication type is not authenticated.
            return new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, Name), new Claim(ClaimTypes.Role, Role.Name())]));
        }

        List<Claim> claims =
        [
            new(ClaimTypes.NameIdentifier, Id.ToString(CultureInfo.InvariantCulture)),
            new(ClaimTypes.Name, Name),
            new(ClaimTypes.Role, Role.Name()),
        ];
        if (SessionId is not null)
        {
            claims.Add(new Claim("sid", SessionId));
        }

        if (Jti is not null)
        {
            claims.Add(new Claim("jti", Jti));
        }

        var type = Kind == CallerKind.ApiKey ? "ApiKey" : "Bearer";
        return new ClaimsPrincipal(new ClaimsIdentity(claims, type, ClaimTypes.Name, ClaimTypes.Role));
    }

    public static Caller ForUser(in AccessClaims claims) => new()
    {
        Kind = CallerKind.User,
        Id = claims.UserId,
        Name = claims.Username,
        Role = claims.Role,
        Jti = claims.Jti,
        SessionId = claims.SessionId,
        Generation = claims.Generation,
        ExpiresAt = claims.Expires,
        RateKey = "u:" + claims.UserId.ToString(CultureInfo.InvariantCulture),
    };
}
