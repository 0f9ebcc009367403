namespace Gateway.Storage;

/// <summary>
/// Where identities live: users, refresh tokens, revoked access tokens and API keys. One
/// interface, two implementations: PostgreSQL for shared deployments and SQLite for a single
/// embedded node. Every call uses parameters; no value is ever spliced into SQL text. Every time,
/// stored or passed (<c>now</c>, <c>expiresAt</c>), is in Unix milliseconds (<see cref="UnixTime"/>).
/// </summary>
internal interface IAuthStore : IAsyncDisposable
{
    /// <summary><c>postgres</c> or <c>sqlite</c>.</summary>
    string Kind { get; }

    /// <summary>
    /// Whether the database is reachable. Every other call throws <see cref="StoreUnavailableException"/>
    /// when it is not (at once while it is known to be down).
    /// </summary>
    StoreHealth Health { get; }

    /// <summary>A cheap round trip (<c>SELECT 1</c>), for <see cref="StoreHealthMonitor"/>; throws the provider's error.</summary>
    Task PingAsync(CancellationToken cancellationToken);

    /// <summary>Applies the versioned migrations not yet applied (safe when replicas start together).</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>The highest migration version applied.</summary>
    Task<int> SchemaVersionAsync(CancellationToken cancellationToken);

    Task<UserRecord?> FindUserByNameAsync(string username, CancellationToken cancellationToken);

    Task<UserRecord?> FindUserAsync(long id, CancellationToken cancellationToken);

    Task<List<UserRecord>> ListUsersAsync(CancellationToken cancellationToken);

    Task<long> CountUsersAsync(CancellationToken cancellationToken);

    /// <summary>Creates a user; null when a live user already has the name.</summary>
    Task<UserRecord?> CreateUserAsync(string username, string passwordHash, string role, long now, CancellationToken cancellationToken);

    /// <summary>
    /// Changes what is given (null: unchanged) and, with <paramref name="endSessions"/>, ends the
    /// user's sessions, in one transaction that refuses to leave no active admin
    /// (<see cref="UserChange.LastAdmin"/>): concurrent demotions and deletions take turns.
    /// </summary>
    Task<UserChangeResult> UpdateUserAsync(long userId, string? role, bool? disabled, string? passwordHash, long now, bool endSessions, CancellationToken cancellationToken);

    /// <summary>Ends every session of the user: bumps its token generation and revokes its refresh tokens. Returns the new generation, or null when the user is gone.</summary>
    Task<long?> EndSessionsAsync(long userId, long now, CancellationToken cancellationToken);

    /// <summary>
    /// Marks the user deleted (the row stays so its old tokens stay revoked) and ends its sessions,
    /// unless it is the last active admin; the result carries the new token generation.
    /// </summary>
    Task<UserChangeResult> DeleteUserAsync(long userId, long now, CancellationToken cancellationToken);

    /// <summary>Begins a session (a refresh-token family) with its first token, in one transaction.</summary>
    Task CreateSessionAsync(RefreshTokenRecord first, CancellationToken cancellationToken);

    /// <summary>The token and its session's start (<see cref="RefreshTokenRecord.SessionCreatedAt"/>), or null.</summary>
    Task<RefreshTokenRecord?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// Rotation, in one transaction: checks the family is alive and began after
    /// <paramref name="sessionStartedAfter"/>, spends <paramref name="spentHash"/> (once: of two
    /// concurrent rotations only one wins) and inserts <paramref name="next"/>. A revocation of the
    /// family waits for it, or it sees the revocation: never a new token in a revoked family.
    /// </summary>
    Task<RotationResult> RotateRefreshTokenAsync(string spentHash, RefreshTokenRecord next, long now, long sessionStartedAfter, CancellationToken cancellationToken);

    /// <summary>Revokes a family and every token in it, in one transaction; returns the family's rows (to revoke their access tokens).</summary>
    Task<List<RefreshTokenRecord>> RevokeFamilyAsync(string familyId, long now, CancellationToken cancellationToken);

    /// <summary>Keeps a revoked access token's id until <paramref name="expiresAt"/> (Unix milliseconds), when the token expires anyway.</summary>
    Task AddRevokedTokenAsync(string jti, long expiresAt, CancellationToken cancellationToken);

    /// <summary>The revoked access tokens that expire after <paramref name="now"/> (Unix milliseconds, as are their expiries).</summary>
    Task<List<RevokedTokenRecord>> ListRevokedTokensAsync(long now, CancellationToken cancellationToken);

    Task<List<UserGenerationRecord>> ListUserGenerationsAsync(CancellationToken cancellationToken);

    /// <summary>Deletes revocations and refresh tokens that have expired.</summary>
    Task PurgeExpiredAsync(long now, CancellationToken cancellationToken);

    /// <summary>True when the user logged in successfully from <paramref name="address"/> at or after <paramref name="since"/>.</summary>
    Task<bool> IsKnownAddressAsync(long userId, string address, long since, CancellationToken cancellationToken);

    /// <summary>Records a successful login of the user from <paramref name="address"/>.</summary>
    Task RememberAddressAsync(long userId, string address, long now, CancellationToken cancellationToken);

    /// <summary>Forgets login addresses last used before <paramref name="before"/>.</summary>
    Task ForgetAddressesAsync(long before, CancellationToken cancellationToken);

    Task<ApiKeyRecord> CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken);

    Task<ApiKeyRecord?> FindApiKeyAsync(long id, CancellationToken cancellationToken);

    Task<List<ApiKeyRecord>> ListApiKeysAsync(CancellationToken cancellationToken);

    /// <summary>Revokes a key; false when there is no such live key.</summary>
    Task<bool> RevokeApiKeyAsync(long id, long now, CancellationToken cancellationToken);

    Task<List<long>> ListRevokedApiKeyIdsAsync(CancellationToken cancellationToken);
}

/// <summary>What a rotation did.</summary>
internal enum RotationResult
{
    /// <summary>The old token is spent and the new one stored.</summary>
    Rotated,

    /// <summary>The old token was spent before: two parties hold it (the caller revokes the family).</summary>
    Reused,

    /// <summary>The family is revoked or past its absolute lifetime, or the token is revoked or expired: nothing changed.</summary>
    Ended,
}

/// <summary>What a change to a user did.</summary>
internal enum UserChange
{
    Done,
    NotFound,

    /// <summary>Refused: it would leave no active admin.</summary>
    LastAdmin,
}

/// <summary>A change's outcome, and the user's new token generation when its sessions ended.</summary>
internal readonly record struct UserChangeResult(UserChange Outcome, long? Generation);
