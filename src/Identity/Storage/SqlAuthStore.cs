using System.Data.Common;
using Dapper;

[module: DapperAot]

namespace Gateway.Storage;

/// <summary>
/// The SQL both stores share: PostgreSQL and SQLite accept the same statements here
/// (parameters, <c>RETURNING</c>, <c>ON CONFLICT</c> on a partial index). Dapper.AOT turns every
/// call into generated code at build time, so nothing here needs reflection.
/// </summary>
internal abstract class SqlAuthStore : IAuthStore
{
    private const string UserColumns =
        "id, username, password_hash AS passwordhash, role, disabled, token_generation AS tokengeneration, created_at AS createdat, updated_at AS updatedat";

    private const string RefreshColumns =
        "token_hash AS tokenhash, family_id AS familyid, user_id AS userid, access_jti AS accessjti, access_expires_at AS accessexpiresat, " +
        "created_at AS createdat, expires_at AS expiresat, used_at AS usedat, revoked_at AS revokedat";

    private const string RefreshColumnsOfT =
        "t.token_hash AS tokenhash, t.family_id AS familyid, t.user_id AS userid, t.access_jti AS accessjti, t.access_expires_at AS accessexpiresat, " +
        "t.created_at AS createdat, t.expires_at AS expiresat, t.used_at AS usedat, t.revoked_at AS revokedat";

    private const string KeyColumns =
        "id, name, secret_hash AS secrethash, role, rate_per_second AS ratepersecond, rate_burst AS rateburst, created_by AS createdby, " +
        "created_at AS createdat, revoked_at AS revokedat";

    protected SqlAuthStore(string kind, TimeProvider time)
    {
        Health = new StoreHealth(kind, time);
    }

    public abstract string Kind { get; }

    public StoreHealth Health { get; }

    /// <summary>An open connection (pooled by the provider).</summary>
    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken);

    /// <summary>True when <paramref name="exception"/> means the database cannot be reached (not a bug or a constraint).</summary>
    protected abstract bool IsOutage(Exception exception);

    public abstract Task MigrateAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    /// <summary>
    /// Runs <paramref name="work"/> on a pooled connection. A failure that means the database is
    /// unreachable becomes <see cref="StoreUnavailableException"/> and marks the store unavailable;
    /// while it is, calls fail at once (the monitor's probe alone brings it back).
    /// </summary>
    protected async Task<T> RunAsync<T>(Func<DbConnection, Task<T>> work, CancellationToken cancellationToken)
    {
        Health.ThrowIfUnavailable();
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            return await work(connection);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && IsOutage(ex))
        {
            Health.ReportFailure(ex.Message);
            throw new StoreUnavailableException(Kind, ex);
        }
    }

    protected Task RunAsync(Func<DbConnection, Task> work, CancellationToken cancellationToken) =>
        RunAsync(
            async connection =>
            {
                await work(connection);
                return true;
            },
            cancellationToken);

    public async Task PingAsync(CancellationToken cancellationToken)
    {
        // Not through RunAsync: the probe must reach the database even while calls fail fast.
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1";
        await command.ExecuteScalarAsync(cancellationToken);
    }

    public Task<int> SchemaVersionAsync(CancellationToken cancellationToken) =>
        RunAsync(static connection => connection.ExecuteScalarAsync<int>("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"), cancellationToken);

    public Task<UserRecord?> FindUserByNameAsync(string username, CancellationToken cancellationToken) =>
        RunAsync(
            connection => connection.QueryFirstOrDefaultAsync<UserRecord>(
                $"SELECT {UserColumns} FROM users WHERE username = @username AND deleted_at IS NULL", new { username }),
            cancellationToken);

    public Task<UserRecord?> FindUserAsync(long id, CancellationToken cancellationToken) =>
        RunAsync(
            connection => connection.QueryFirstOrDefaultAsync<UserRecord>(
                $"SELECT {UserColumns} FROM users WHERE id = @id AND deleted_at IS NULL", new { id }),
            cancellationToken);

    public Task<List<UserRecord>> ListUsersAsync(CancellationToken cancellationToken) =>
        RunAsync(
            static async connection => AsList(await connection.QueryAsync<UserRecord>($"SELECT {UserColumns} FROM users WHERE deleted_at IS NULL ORDER BY id")),
            cancellationToken);

    public Task<long> CountUsersAsync(CancellationToken cancellationToken) =>
        RunAsync(static connection => connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL"), cancellationToken);

    public Task<UserRecord?> CreateUserAsync(string username, string passwordHash, string role, long now, CancellationToken cancellationToken) =>
        RunAsync(
            connection => connection.QueryFirstOrDefaultAsync<UserRecord>(
                $"""
                INSERT INTO users (username, password_hash, role, disabled, token_generation, created_at, updated_at)
                VALUES (@username, @passwordHash, @role, @disabled, 0, @now, @now)
                ON CONFLICT (username) WHERE deleted_at IS NULL DO NOTHING
                RETURNING {UserColumns}
                """,
                new { username, passwordHash, role, disabled = false, now }),
            cancellationToken);

    /// <summary>
    /// Serializes the changes that can take an admin away (role, disabled, delete) inside a
    /// transaction. SQLite needs nothing: its transactions begin IMMEDIATE (Microsoft.Data.Sqlite's
    /// default), one writer at a time.
    /// </summary>
    protected virtual Task LockUserChangesAsync(DbConnection connection, DbTransaction transaction) => Task.CompletedTask;

    public Task<UserChangeResult> UpdateUserAsync(long userId, string? role, bool? disabled, string? passwordHash, long now, bool endSessions, CancellationToken cancellationToken) =>
        RunAsync(
            async connection =>
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await LockUserChangesAsync(connection, transaction);
                var current = await connection.QueryFirstOrDefaultAsync<UserRecord>(
                    $"SELECT {UserColumns} FROM users WHERE id = @userId AND deleted_at IS NULL", new { userId }, transaction);
                if (current is null)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return new UserChangeResult(UserChange.NotFound, null);
                }

                var staysAdmin = (role ?? current.Role) == AdminRole && !(disabled ?? current.Disabled);
                if (IsActiveAdmin(current) && !staysAdmin && await OtherActiveAdminsAsync(connection, transaction, userId) == 0)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return new UserChangeResult(UserChange.LastAdmin, null);
                }

                await connection.ExecuteAsync(
                    """
                    UPDATE users SET role = COALESCE(@role, role), disabled = COALESCE(@disabled, disabled),
                        password_hash = COALESCE(@passwordHash, password_hash), updated_at = @now
                    WHERE id = @userId
                    """,
                    new { role, disabled, passwordHash, now, userId }, transaction);
                var generation = endSessions ? await EndSessionsAsync(connection, transaction, userId, now) : null;
                await transaction.CommitAsync(cancellationToken);
                return new UserChangeResult(UserChange.Done, generation);
            },
            cancellationToken);

    public Task<long?> EndSessionsAsync(long userId, long now, CancellationToken cancellationToken) =>
        RunAsync(
            async connection =>
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                var generation = await EndSessionsAsync(connection, transaction, userId, now);
                await transaction.CommitAsync(cancellationToken);
                return generation;
            },
            cancellationToken);

    public Task<UserChangeResult> DeleteUserAsync(long userId, long now, CancellationToken cancellationToken) =>
        RunAsync(
            async connection =>
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await LockUserChangesAsync(connection, transaction);
                var current = await connection.QueryFirstOrDefaultAsync<UserRecord>(
                    $"SELECT {UserColumns} FROM users WHERE id = @userId AND deleted_at IS NULL", new { userId }, transaction);
                if (current is null)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return new UserChangeResult(UserChange.NotFound, null);
                }

                if (IsActiveAdmin(current) && await OtherActiveAdminsAsync(connection, transaction, userId) == 0)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return new UserChangeResult(UserChange.LastAdmin, null);
                }

                var generation = await connection.QueryFirstAsync<long>(
                    """
                    UPDATE users SET token_generation = token_generation + 1, disabled = @disabled, deleted_at = @now, updated_at = @now
                    WHERE id = @userId
                    RETURNING token_generation
                    """,
                    new { userId, now, disabled = true }, transaction);
                await RevokeUserFamiliesAsync(connection, transaction, userId, now);
                await transaction.CommitAsync(cancellationToken);
                return new UserChangeResult(UserChange.Done, generation);
            },
            cancellationToken);

    private const string AdminRole = "admin";

    private static bool IsActiveAdmin(UserRecord user) => user.Role == AdminRole && !user.Disabled;

    private static Task<long> OtherActiveAdminsAsync(DbConnection connection, DbTransaction transaction, long userId) =>
        connection.ExecuteScalarAsync<long>(
            "SELECT COUNT(*) FROM users WHERE role = @admin AND disabled = @disabled AND deleted_at IS NULL AND id <> @userId",
            new { admin = AdminRole, disabled = false, userId },
            transaction);

    /// <summary>Bumps the user's token generation and revokes its sessions, inside the caller's transaction; null when the user is gone.</summary>
    private static async Task<long?> EndSessionsAsync(DbConnection connection, DbTransaction transaction, long userId, long now)
    {
        var generation = await connection.QueryFirstOrDefaultAsync<long?>(
            """
            UPDATE users SET token_generation = token_generation + 1, updated_at = @now
            WHERE id = @userId AND deleted_at IS NULL
            RETURNING token_generation
            """,
            new { userId, now }, transaction);
        if (generation is not null)
        {
            await RevokeUserFamiliesAsync(connection, transaction, userId, now);
        }

        return generation;
    }

    public Task CreateSessionAsync(RefreshTokenRecord first, CancellationToken cancellationToken) =>
        RunAsync(
            async connection =>
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await connection.ExecuteAsync(
                    "INSERT INTO refresh_families (family_id, user_id, created_at) VALUES (@FamilyId, @UserId, @CreatedAt)", first, transaction);
                await InsertRefreshTokenAsync(connection, transaction, first);
                await transaction.CommitAsync(cancellationToken);
            },
            cancellationToken);

    public Task<RefreshTokenRecord?> FindRefreshTokenAsync(string tokenHash, CancellationToken cancellationToken) =>
        RunAsync(
            connection => connection.QueryFirstOrDefaultAsync<RefreshTokenRecord>(
                $"""
                SELECT {RefreshColumnsOfT}, f.created_at AS sessioncreatedat
                FROM refresh_tokens t LEFT JOIN refresh_families f ON f.family_id = t.family_id
                WHERE t.token_hash = @tokenHash
                """,
                new { tokenHash }),
            cancellationToken);

    public Task<RotationResult> RotateRefreshTokenAsync(string spentHash, RefreshTokenRecord next, long now, long sessionStartedAfter, CancellationToken cancellationToken) =>
        RunAsync(
            async connection =>
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

                // The family's row first: a revocation of the family writes it first too, so the two
                // take turns (on PostgreSQL the row lock; SQLite has one writer at a time anyway).
                var alive = await connection.ExecuteAsync(
                    """
                    UPDATE refresh_families SET rotated_at = @now
                    WHERE family_id = @familyId AND revoked_at IS NULL AND created_at > @sessionStartedAfter
                    """,
                    new { now, familyId = next.FamilyId, sessionStartedAfter }, transaction);
                if (alive != 1)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    return RotationResult.Ended;
                }

                var spent = await connection.ExecuteAsync(
                    """
                    UPDATE refresh_tokens SET used_at = @now
                    WHERE token_hash = @spentHash AND family_id = @familyId AND used_at IS NULL AND revoked_at IS NULL AND expires_at > @now
                    """,
                    new { now, spentHash, familyId = next.FamilyId }, transaction);
                if (spent != 1)
                {
                    var usedAt = await connection.QueryFirstOrDefaultAsync<long?>(
                        "SELECT used_at FROM refresh_tokens WHERE token_hash = @spentHash", new { spentHash }, transaction);
                    await transaction.RollbackAsync(cancellationToken);
                    return usedAt is null ? RotationResult.Ended : RotationResult.Reused;
                }

                await InsertRefreshTokenAsync(connection, transaction, next);
                await transaction.CommitAsync(cancellationToken);
                return RotationResult.Rotated;
            },
            cancellationToken);

    public Task<List<RefreshTokenRecord>> RevokeFamilyAsync(string familyId, long now, CancellationToken cancellationToken) =>
        RunAsync(
            async connection =>
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

                // The family's row first: a rotation under way finishes before this goes on, and the
                // token it inserted is then revoked below (a statement begun after it committed sees it).
                await connection.ExecuteAsync(
                    "UPDATE refresh_families SET revoked_at = @now WHERE family_id = @familyId AND revoked_at IS NULL",
                    new { familyId, now }, transaction);
                await connection.ExecuteAsync(
                    "UPDATE refresh_tokens SET revoked_at = @now WHERE family_id = @familyId AND revoked_at IS NULL",
                    new { familyId, now }, transaction);
                var rows = AsList(await connection.QueryAsync<RefreshTokenRecord>(
                    $"SELECT {RefreshColumns} FROM refresh_tokens WHERE family_id = @familyId", new { familyId }, transaction));
                await transaction.CommitAsync(cancellationToken);
                return rows;
            },
            cancellationToken);

    private static Task<int> InsertRefreshTokenAsync(DbConnection connection, DbTransaction transaction, RefreshTokenRecord token) =>
        connection.ExecuteAsync(
            """
            INSERT INTO refresh_tokens (token_hash, family_id, user_id, access_jti, access_expires_at, created_at, expires_at)
            VALUES (@TokenHash, @FamilyId, @UserId, @AccessJti, @AccessExpiresAt, @CreatedAt, @ExpiresAt)
            """,
            token,
            transaction);

    /// <summary>Every session of the user, families first (see <see cref="RevokeFamilyAsync"/>), inside the caller's transaction.</summary>
    private static async Task RevokeUserFamiliesAsync(DbConnection connection, DbTransaction transaction, long userId, long now)
    {
        await connection.ExecuteAsync(
            "UPDATE refresh_families SET revoked_at = @now WHERE user_id = @userId AND revoked_at IS NULL", new { userId, now }, transaction);
        await connection.ExecuteAsync(
            "UPDATE refresh_tokens SET revoked_at = @now WHERE user_id = @userId AND revoked_at IS NULL", new { userId, now }, transaction);
    }

    public Task AddRevokedTokenAsync(string jti, long expiresAt, CancellationToken cancellationToken) =>
        RunAsync(
            connection => connection.ExecuteAsync(
                "INSERT INTO revoked_tokens (jti, expires_at) VALUES (@jti, @expiresAt) ON CONFLICT (jti) DO NOTHING", new { jti, expiresAt }),
            cancellationToken);

    public Task<List<RevokedTokenRecord>> ListRevokedTokensAsync(long now, CancellationToken cancellationToken) =>
        RunAsync(
            async connection =>
            {
                // Rows in seconds (a previous version's, during a rolling upgrade) are read as seconds.
                var rows = AsList(await connection.QueryAsync<RevokedTokenRecord>(
                    "SELECT jti, expires_at AS expiresat FROM revoked_tokens WHERE expires_at > @now OR expires_at < @secondsBelow",
                    new { now, secondsBelow = UnixTime.SecondsBelow }));
                rows.RemoveAll(row =>
                {
                    row.ExpiresAt = UnixTime.StoredToMilliseconds(row.ExpiresAt);
                    return row.ExpiresAt <= now;
                });
                return rows;
            },
            cancellationToken);

    public Task<List<UserGenerationRecord>> ListUserGenerationsAsync(CancellationToken cancellationToken) =>
        RunAsync(
            static async connection => AsList(await connection.QueryAsync<UserGenerationRecord>(
                "SELECT id, token_generation AS tokengeneration FROM users WHERE token_generation > 0")),
            cancellationToken);

    public Task PurgeExpiredAsync(long now, CancellationToken cancellationToken) =>
        RunAsync(
            async connection =>
            {
                // First rewrite what a previous version wrote in seconds (rolling upgrades), so it is not purged as long expired.
                var secondsBelow = UnixTime.SecondsBelow;
                await connection.ExecuteAsync(
                    "UPDATE revoked_tokens SET expires_at = expires_at * 1000 WHERE expires_at < @secondsBelow", new { secondsBelow });
                await connection.ExecuteAsync(
                    "UPDATE refresh_tokens SET access_expires_at = access_expires_at * 1000 WHERE access_expires_at < @secondsBelow", new { secondsBelow });
                await connection.ExecuteAsync("DELETE FROM revoked_tokens WHERE expires_at <= @now", new { now });
                await connection.ExecuteAsync("DELETE FROM refresh_tokens WHERE expires_at <= @now", new { now });

                // A session whose every token has expired is over.
                await connection.ExecuteAsync(
                    "DELETE FROM refresh_families WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.family_id)");
            },
            cancellationToken);

    public Task<bool> IsKnownAddressAsync(long userId, string address, long since, CancellationToken cancellationToken) =>
        RunAsync(
            async connection => await connection.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM login_addresses WHERE user_id = @userId AND address = @address AND last_login_at >= @since",
                new { userId, address, since }) > 0,
            cancellationToken);

    public Task RememberAddressAsync(long userId, string address, long now, CancellationToken cancellationToken) =>
        RunAsync(
            connection => connection.ExecuteAsync(
                """
                INSERT INTO login_addresses (user_id, address, last_login_at) VALUES (@userId, @address, @now)
                ON CONFLICT (user_id, address) DO UPDATE SET last_login_at = excluded.last_login_at
                """,
                new { userId, address, now }),
            cancellationToken);

    public Task ForgetAddressesAsync(long before, CancellationToken cancellationToken) =>
        RunAsync(connection => connection.ExecuteAsync("DELETE FROM login_addresses WHERE last_login_at < @before", new { before }), cancellationToken);

    public Task<ApiKeyRecord> CreateApiKeyAsync(ApiKeyRecord key, CancellationToken cancellationToken) =>
        RunAsync(
            connection => connection.QuerySingleAsync<ApiKeyRecord>(
                $"""
                INSERT INTO api_keys (name, secret_hash, role, rate_per_second, rate_burst, created_by, created_at)
                VALUES (@Name, @SecretHash, @Role, @RatePerSecond, @RateBurst, @CreatedBy, @CreatedAt)
                RETURNING {KeyColumns}
                """,
                key),
            cancellationToken);

    public Task<ApiKeyRecord?> FindApiKeyAsync(long id, CancellationToken cancellationToken) =>
        RunAsync(
            connection => connection.QueryFirstOrDefaultAsync<ApiKeyRecord>($"SELECT {KeyColumns} FROM api_keys WHERE id = @id", new { id }),
            cancellationToken);

    public Task<List<ApiKeyRecord>> ListApiKeysAsync(CancellationToken cancellationToken) =>
        RunAsync(
            static async connection => AsList(await connection.QueryAsync<ApiKeyRecord>($"SELECT {KeyColumns} FROM api_keys ORDER BY id")),
            cancellationToken);

    public Task<bool> RevokeApiKeyAsync(long id, long now, CancellationToken cancellationToken) =>
        RunAsync(
            async connection => await connection.ExecuteAsync(
                "UPDATE api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL", new { id, now }) == 1,
            cancellationToken);

    public Task<List<long>> ListRevokedApiKeyIdsAsync(CancellationToken cancellationToken) =>
        RunAsync(
            static async connection => AsList(await connection.QueryAsync<long>("SELECT id FROM api_keys WHERE revoked_at IS NOT NULL")),
            cancellationToken);

    // Dapper's own AsList would pull Dapper's reflection-based SqlMapper into the AOT binary.
    private static List<T> AsList<T>(IEnumerable<T> rows) => rows as List<T> ?? new List<T>(rows);

    /// <summary>The dialect's migration scripts, ordered by version (embedded resources <c>NNNN_name.sql</c>).</summary>
    internal static List<(int Version, string Name, string Sql)> LoadMigrations(string dialect)
    {
        // Resources are named Gateway.Storage.Migrations.<Dialect><separator><NNNN_name>.sql (the separator follows the build OS).
        var prefix = $"Gateway.Storage.Migrations.{dialect}";
        var assembly = typeof(SqlAuthStore).Assembly;
        var list = new List<(int, string, string)>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(prefix, StringComparison.Ordinal) || !resource.EndsWith(".sql", StringComparison.Ordinal)
                || resource.Length <= prefix.Length + 1 || resource[prefix.Length] is not ('/' or '\\' or '.'))
            {
                continue;
            }

            var name = resource[(prefix.Length + 1)..^4];
            var version = int.Parse(name.AsSpan(0, name.IndexOf('_', StringComparison.Ordinal)), System.Globalization.CultureInfo.InvariantCulture);
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            list.Add((version, name, reader.ReadToEnd()));
        }

        if (list.Count == 0)
        {
            throw new InvalidOperationException($"no {dialect} migrations are embedded in the binary");
        }

        list.Sort(static (a, b) => a.Item1.CompareTo(b.Item1));
        return list;
    }

    /// <summary>Applies, in one transaction each, the migrations above the current version.</summary>
    protected static async Task ApplyMigrationsAsync(DbConnection connection, string dialect, long now, CancellationToken cancellationToken)
    {
        await connection.ExecuteAsync(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
        var current = await connection.ExecuteScalarAsync<int>("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
        foreach (var (version, name, sql) in LoadMigrations(dialect))
        {
            if (version <= current)
            {
                continue;
            }

            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using (var command = connection.CreateCommand())
            {
                // The script is a constant shipped in the binary, never built from input.
                command.Transaction = transaction;
#pragma warning disable CA2100 // Migration text is an embedded resource, not user input.
                command.CommandText = sql;
#pragma warning restore CA2100
                await command.ExecuteNonQueryAsync(cancellationToken);
            }

            await connection.ExecuteAsync(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@version, @name, @now)", new { version, name, now }, transaction);
            await transaction.CommitAsync(cancellationToken);
        }
    }
}
