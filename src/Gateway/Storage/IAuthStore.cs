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

    /// <summary>Writes role, disabled flag and password hash; false when the user is gone.</summary>
    Task<bool> UpdateUserAsync(UserRecord user, long now, CancellationToken cancellationToken);

    /// <summary>Ends every session of the user: bumps its token generation and revokes its refresh tokens. Returns the new generation, or null when the user is gone.</summary>
    Task<long?> EndSessionsAsync(long userId, long now, CancellationToken cancellationToken);

    /// <summary>Marks the user deleted (the row stays so its old tokens stay revoked); returns the new token generation, or null when there was no such user.</summary>
    Task<long?> DeleteUserAsync(long userId, long now, CancellationToken cancellationToken);

    Task InsertRefreshTokenAsync(RefreshTokenRecord token, CancellationToken cancellationToken);

    Task<RefreshTokenRecord?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken);

    /// <summary>Spends a refresh token once: true only for the caller that spent it.</summary>
    Task<bool> SpendRefreshTokenAsync(string tokenHash, long now, CancellationToken cancellationToken);

    /// <summary>Revokes every token of a family; returns the family's rows (to revoke their access tokens).</summary>
    Task<List<RefreshTokenRecord>> RevokeFamilyAsync(string familyId, long now, CancellationToken cancellationToken);

    /// <summary>Keeps a revoked access token's id until <paramref name="expiresAt"/> (Unix milliseconds), when the token expires anyway.</summary>
    Task AddRevokedTokenAsync(string jti, long expiresAt, CancellationToken cancellationToken);

    /// <summary>The revoked access tokens that expire after <paramref name="now"/> (Unix milliseconds, as are their expiries).</summary>
    Task<List<RevokedTokenRecord>> ListRevokedTokensAsync(long now, CancellationToken cancellationToken);

    Task<List<UserGenerationRecord>> ListUserGenerationsAsync(CancellationToken cancellationToken);

    /// <summary>Deletes revocations and refresh tokens that have expired.</summary>
    Task PurgeExpiredAsync(long now, CancellationToken cancellationToken);

    Task<ApiKeyRecord> CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken);

    Task<ApiKeyRecord?> FindApiKeyAsync(long id, CancellationToken cancellationToken);

    Task<List<ApiKeyRecord>> ListApiKeysAsync(CancellationToken cancellationToken);

    /// <summary>Revokes a key; false when there is no such live key.</summary>
    Task<bool> RevokeApiKeyAsync(long id, long now, CancellationToken cancellationToken);

    Task<List<long>> ListRevokedApiKeyIdsAsync(CancellationToken cancellationToken);
}
