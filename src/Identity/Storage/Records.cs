namespace Gateway.Storage;

/// <summary>A user row. Times are Unix milliseconds.</summary>
internal sealed class UserRecord
{
    public long Id { get; set; }

    public string Username { get; set; } = string.Empty;

    public string PasswordHash { get; set; } = string.Empty;

    public string Role { get; set; } = string.Empty;

    public bool Disabled { get; set; }

    /// <summary>Bumped whenever the user's sessions must end; tokens carry the value they were issued under.</summary>
    public long TokenGeneration { get; set; }

    public long CreatedAt { get; set; }

    public long UpdatedAt { get; set; }
}

/// <summary>A refresh token row: only the SHA-256 of the token is stored. Times are Unix milliseconds.</summary>
internal sealed class RefreshTokenRecord
{
    public string TokenHash { get; set; } = string.Empty;

    /// <summary>Every token rotated from one login shares a family; reuse of a spent one revokes it.</summary>
    public string FamilyId { get; set; } = string.Empty;

    public long UserId { get; set; }

    /// <summary>The access token issued with this refresh token, revoked with the family.</summary>
    public string AccessJti { get; set; } = string.Empty;

    /// <summary>When that access token expires (milliseconds, like every stored time; its <c>exp</c> claim is in seconds).</summary>
    public long AccessExpiresAt { get; set; }

    public long CreatedAt { get; set; }

    public long ExpiresAt { get; set; }

    public long? UsedAt { get; set; }

    public long? RevokedAt { get; set; }

    /// <summary>When the token's session (its family) began, read with the token; null when the family is gone.</summary>
    public long? SessionCreatedAt { get; set; }
}

/// <summary>A revoked access token, kept until it would have expired anyway.</summary>
internal sealed class RevokedTokenRecord
{
    public string Jti { get; set; } = string.Empty;

    /// <summary>Unix milliseconds (seconds before migration 0002: the unit mismatch that let the maintenance pass purge every revocation).</summary>
    public long ExpiresAt { get; set; }
}

/// <summary>A user whose token generation has been bumped at least once.</summary>
internal sealed class UserGenerationRecord
{
    public long Id { get; set; }

    public long TokenGeneration { get; set; }
}

/// <summary>An API key row: only the SHA-256 of the secret part is stored. Times are Unix milliseconds.</summary>
internal sealed class ApiKeyRecord
{
    public long Id { get; set; }

    public string Name { get; set; } = string.Empty;

    public string SecretHash { get; set; } = string.Empty;

    public string Role { get; set; } = string.Empty;

    /// <summary>Overrides the role's rate limit when set.</summary>
    public double? RatePerSecond { get; set; }

    public int? RateBurst { get; set; }

    public long? CreatedBy { get; set; }

    public long CreatedAt { get; set; }

    public long? RevokedAt { get; set; }
}
