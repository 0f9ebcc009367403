namespace Gateway.Auth;

/// <summary>
/// Settings under <c>Auth</c>. Secrets (<c>Auth:BootstrapAdminPassword</c>,
/// <c>Auth:JwtSigningKeys</c>) are not bound here: they come through the secret chain
/// (environment, files, AWS Secrets Manager). Bound and validated once at start-up.
/// </summary>
internal sealed class AuthOptions
{
    public const string SectionName = "Auth";

    /// <summary><c>jwt</c> (default): credentials required; <c>none</c>: everyone is admin (local experiments only).</summary>
    public string Mode { get; set; } = "jwt";

    /// <summary>The <c>iss</c> claim written and required.</summary>
    public string Issuer { get; set; } = "inference-gateway";

    /// <summary>The <c>aud</c> claim written and required.</summary>
    public string Audience { get; set; } = "inference-gateway";

    public int AccessTokenMinutes { get; set; } = 15;

    public int RefreshTokenDays { get; set; } = 7;

    /// <summary>
    /// A session's absolute lifetime: refresh tokens rotate every use, but never past this many
    /// days after the login that began the session; then the user logs in again.
    /// </summary>
    public int SessionDays { get; set; } = 30;

    /// <summary>Leeway for <c>exp</c> and <c>nbf</c> between replicas' clocks.</summary>
    public int ClockSkewSeconds { get; set; } = 30;

    /// <summary>BCrypt work factor (4 to 20); each step doubles the cost of a login.</summary>
    public int BcryptWorkFactor { get; set; } = 12;

    /// <summary>The least role that reads metrics and the detailed health view.</summary>
    public string PrivilegedRole { get; set; } = "supervisor";

    /// <summary>Validated tokens and API keys kept in memory (each check after the first is a lookup).</summary>
    public int TokenCacheSize { get; set; } = 100_000;

    /// <summary>
    /// <c>closed</c> (default): while the revocation feed (Redis) is down, token and key checks
    /// answer 503 because a revocation might be missed; <c>open</c>: they go on with the deny set as it was.
    /// </summary>
    public string RevocationFailure { get; set; } = "closed";

    /// <summary>How often the deny set is reloaded from the store, catching anything pub/sub dropped.</summary>
    public int RevocationResyncSeconds { get; set; } = 30;

    /// <summary>
    /// How long an address a user logged in from stays known: the right password from a known
    /// address gets in while the account is in backoff from failures elsewhere.
    /// </summary>
    public int KnownAddressDays { get; set; } = 90;

    /// <summary>Largest body accepted by the <c>/v1</c> auth and user endpoints.</summary>
    public int MaxBodyBytes { get; set; } = 16 * 1024;

    public bool Disabled => string.Equals(Mode, "none", StringComparison.OrdinalIgnoreCase);

    public bool FailClosed => !string.Equals(RevocationFailure, "open", StringComparison.OrdinalIgnoreCase);

    public Role Privileged => Roles.TryParse(PrivilegedRole.AsSpan(), out var role) ? role : Role.Supervisor;

    /// <summary>Checks the values; returns the first problem, naming its key, or null.</summary>
    public string? Validate()
    {
        if (!string.Equals(Mode, "jwt", StringComparison.OrdinalIgnoreCase) && !Disabled)
        {
            return $"{SectionName}:Mode must be 'jwt' or 'none' (got '{Mode}')";
        }

        if (string.IsNullOrWhiteSpace(Issuer) || string.IsNullOrWhiteSpace(Audience))
        {
            return $"{SectionName}:Issuer and {SectionName}:Audience must not be empty";
        }

        if (AccessTokenMinutes is < 1 or > 24 * 60)
        {
            return $"{SectionName}:AccessTokenMinutes must be between 1 and 1440 (got {AccessTokenMinutes})";
        }

        if (RefreshTokenDays is < 1 or > 365)
        {
            return $"{SectionName}:RefreshTokenDays must be between 1 and 365 (got {RefreshTokenDays})";
        }

        if (SessionDays is < 1 or > 3650)
        {
            return $"{SectionName}:SessionDays must be between 1 and 3650 (got {SessionDays})";
        }

        if (ClockSkewSeconds is < 0 or > 300)
        {
            return $"{SectionName}:ClockSkewSeconds must be between 0 and 300 (got {ClockSkewSeconds})";
        }

        if (BcryptWorkFactor is < 4 or > 20)
        {
            return $"{SectionName}:BcryptWorkFactor must be between 4 and 20 (got {BcryptWorkFactor})";
        }

        if (!Roles.TryParse(PrivilegedRole.AsSpan(), out _))
        {
            return $"{SectionName}:PrivilegedRole must be one of {Roles.Accepted} (got '{PrivilegedRole}')";
        }

        if (TokenCacheSize is < 16 or > 10_000_000)
        {
            return $"{SectionName}:TokenCacheSize must be between 16 and 10000000 (got {TokenCacheSize})";
        }

        if (!string.Equals(RevocationFailure, "closed", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(RevocationFailure, "open", StringComparison.OrdinalIgnoreCase))
        {
            return $"{SectionName}:RevocationFailure must be 'closed' or 'open' (got '{RevocationFailure}')";
        }

        if (RevocationResyncSeconds is < 1 or > 3600)
        {
            return $"{SectionName}:RevocationResyncSeconds must be between 1 and 3600 (got {RevocationResyncSeconds})";
        }

        if (KnownAddressDays is < 1 or > 3650)
        {
            return $"{SectionName}:KnownAddressDays must be between 1 and 3650 (got {KnownAddressDays})";
        }

        if (MaxBodyBytes is < 256 or > 1024 * 1024)
        {
            return $"{SectionName}:MaxBodyBytes must be between 256 and 1048576 (got {MaxBodyBytes})";
        }

        return null;
    }
}
