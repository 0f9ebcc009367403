using Gateway.Storage;
using Gateway.Testing;

namespace Gateway.Tests.Storage;

/// <summary>
/// The same behaviour from both stores: SQLite (embedded) and PostgreSQL 15 (the one build.sh starts).
/// This file is compiled into two projects, each naming its kinds: the unit tests run SQLite
/// (AuthStoreTests.Sqlite.cs), Gateway.FunctionalTests runs PostgreSQL (AuthStoreTests.Postgres.cs).
/// </summary>
public sealed partial class AuthStoreTests : IAsyncLifetime
{
    private readonly List<IAuthStore> _stores = [];
    private readonly string _directory = Directory.CreateTempSubdirectory().FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    private readonly Dictionary<IAuthStore, string> _connections = [];

    private async Task<IAuthStore> StoreAsync(string kind, bool migrate = true)
    {
        var connection = kind == "sqlite"
            ? Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db")
            : await TestServices.CreatePostgresDatabaseAsync();
        IAuthStore store = kind == "sqlite"
            ? new SqliteAuthStore(connection, TimeProvider.System)
            : new PostgresAuthStore(connection, null, TimeProvider.System);
        _stores.Add(store);
        _connections[store] = kind == "sqlite" ? $"Data Source={connection}" : connection;
        if (migrate)
        {
            await store.MigrateAsync(default);
        }

        return store;
    }

    /// <summary>The highest migration shipped (both dialects have the same versions).</summary>
    private static int Latest => SqlAuthStore.LoadMigrations("Sqlite")[^1].Version;

    private const long Now = 1_800_000_000_000; // Unix milliseconds, in 2027

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Migrations_AreIdempotent(string kind)
    {
        var store = await StoreAsync(kind);
        await store.MigrateAsync(default);
        Assert.Equal(Latest, await store.SchemaVersionAsync(default));
        Assert.Equal(kind, store.Kind);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Users_CreateFindUpdateDelete(string kind)
    {
        var store = await StoreAsync(kind);
        var user = await store.CreateUserAsync("alice", "hash", "worker", 1000, default);
        Assert.NotNull(user);
        Assert.Null(await store.CreateUserAsync("alice", "other", "admin", 1001, default));
        Assert.Equal(user.Id, (await store.FindUserByNameAsync("alice", default))!.Id);
        Assert.Equal(1, await store.CountUsersAsync(default));

        Assert.Equal(new UserChangeResult(UserChange.Done, null), await store.UpdateUserAsync(user.Id, "supervisor", true, null, 2000, endSessions: false, default));
        var read = (await store.FindUserAsync(user.Id, default))!;
        Assert.Equal("supervisor", read.Role);
        Assert.True(read.Disabled);
        Assert.Equal("hash", read.PasswordHash);
        Assert.Equal(2000, read.UpdatedAt);

        Assert.Equal(1, await store.EndSessionsAsync(user.Id, 3000, default));
        Assert.Equal(new UserChangeResult(UserChange.Done, 2), await store.DeleteUserAsync(user.Id, 4000, default));
        Assert.Null(await store.FindUserAsync(user.Id, default));
        Assert.Equal(UserChange.NotFound, (await store.DeleteUserAsync(user.Id, 4000, default)).Outcome);
        Assert.Equal(UserChange.NotFound, (await store.UpdateUserAsync(user.Id, "admin", null, null, 4000, endSessions: false, default)).Outcome);
        Assert.Contains(await store.ListUserGenerationsAsync(default), g => g.Id == user.Id && g.TokenGeneration == 2);
        Assert.NotNull(await store.CreateUserAsync("alice", "hash", "viewer", 5000, default));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task LastActiveAdmin_CannotBeDemotedDisabledOrDeleted_ButMayChangeItsPassword(string kind)
    {
        var store = await StoreAsync(kind);
        var admin = (await store.CreateUserAsync("root", "h", "admin", Now, default))!;
        var disabledAdmin = (await store.CreateUserAsync("gone", "h", "admin", Now, default))!;
        Assert.Equal(UserChange.Done, (await store.UpdateUserAsync(disabledAdmin.Id, null, true, null, Now, endSessions: true, default)).Outcome);

        Assert.Equal(UserChange.LastAdmin, (await store.UpdateUserAsync(admin.Id, "supervisor", null, null, Now, endSessions: true, default)).Outcome);
        Assert.Equal(UserChange.LastAdmin, (await store.UpdateUserAsync(admin.Id, null, true, null, Now, endSessions: true, default)).Outcome);
        Assert.Equal(UserChange.LastAdmin, (await store.DeleteUserAsync(admin.Id, Now, default)).Outcome);
        var password = await store.UpdateUserAsync(admin.Id, "admin", false, "new-hash", Now, endSessions: true, default);
        Assert.Equal(new UserChangeResult(UserChange.Done, 1), password);
        Assert.Equal("admin", (await store.FindUserAsync(admin.Id, default))!.Role);

        // The disabled admin does not count; re-enabled, it does, and the other may go.
        Assert.Equal(UserChange.Done, (await store.UpdateUserAsync(disabledAdmin.Id, null, false, null, Now, endSessions: false, default)).Outcome);
        Assert.Equal(UserChange.Done, (await store.DeleteUserAsync(admin.Id, Now, default)).Outcome);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task AdminsRemovedConcurrently_AlwaysLeaveOne(string kind)
    {
        var store = await StoreAsync(kind);
        var admins = new List<long>();
        for (var i = 0; i < 6; i++)
        {
            admins.Add((await store.CreateUserAsync("admin-" + i, "h", "admin", Now, default))!.Id);
        }

        // Every admin is demoted, disabled or deleted at once, twice over.
        var changes = admins.SelectMany((id, i) => new Func<Task<UserChangeResult>>[]
        {
            () => (i % 3) switch
            {
                0 => store.UpdateUserAsync(id, "viewer", null, null, Now, endSessions: true, default),
                1 => store.UpdateUserAsync(id, null, true, null, Now, endSessions: true, default),
                _ => store.DeleteUserAsync(id, Now, default),
            },
            () => store.DeleteUserAsync(id, Now, default),
        });
        var results = await Task.WhenAll(changes.Select(change => Task.Run(change)));
        Assert.Contains(results, r => r.Outcome == UserChange.LastAdmin);
        var left = (await store.ListUsersAsync(default)).Count(u => u.Role == "admin" && !u.Disabled);
        Assert.Equal(1, left);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task HostileText_IsStoredLiterally(string kind)
    {
        var store = await StoreAsync(kind);
        const string evil = "x'); DROP TABLE users; --";
        var user = await store.CreateUserAsync(evil, "' OR '1'='1", "viewer", 1, default);
        Assert.NotNull(user);
        Assert.Equal(evil, (await store.FindUserByNameAsync(evil, default))!.Username);
        Assert.Null(await store.FindUserByNameAsync("' OR '1'='1", default));
        Assert.Single(await store.ListUsersAsync(default));
    }

    private static RefreshTokenRecord Token(string hash, long userId, string family = "fam", long createdAt = Now, long expiresAt = Now + 86_400_000) => new()
    {
        TokenHash = hash, FamilyId = family, UserId = userId, AccessJti = "jti-" + hash, AccessExpiresAt = Now + 900_000, CreatedAt = createdAt, ExpiresAt = expiresAt,
    };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task RefreshToken_RotatedOnceEvenUnderConcurrency_AndFamiliesRevoke(string kind)
    {
        var store = await StoreAsync(kind);
        var user = (await store.CreateUserAsync("bob", "h", "worker", Now, default))!;
        await store.CreateSessionAsync(Token("h1", user.Id), default);
        Assert.Equal(Now, (await store.FindRefreshTokenAsync("h1", default))!.SessionCreatedAt);

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            store.RotateRefreshTokenAsync("h1", Token("next-" + i, user.Id), Now + 5, 0, default)));
        Assert.Single(results, r => r == RotationResult.Rotated);
        Assert.All(results, r => Assert.True(r is RotationResult.Rotated or RotationResult.Reused));
        Assert.Equal(Now + 5, (await store.FindRefreshTokenAsync("h1", default))!.UsedAt);
        var winner = "next-" + Array.IndexOf(results, RotationResult.Rotated);
        Assert.Equal(RotationResult.Reused, await store.RotateRefreshTokenAsync("h1", Token("late", user.Id), Now + 6, 0, default));

        var family = await store.RevokeFamilyAsync("fam", Now + 7, default);
        Assert.Equal(["jti-h1", "jti-" + winner], family.Select(f => f.AccessJti).Order());
        Assert.Equal(RotationResult.Ended, await store.RotateRefreshTokenAsync(winner, Token("after", user.Id), Now + 8, 0, default));
        Assert.Equal(Now + 7, (await store.FindRefreshTokenAsync(winner, default))!.RevokedAt);
        Assert.Null(await store.FindRefreshTokenAsync("after", default));

        await store.PurgeExpiredAsync(Now + 2 * 86_400_000L, default);
        Assert.Null(await store.FindRefreshTokenAsync(winner, default));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Rotation_RefusesASessionPastItsAbsoluteLifetime(string kind)
    {
        var store = await StoreAsync(kind);
        var user = (await store.CreateUserAsync("old", "h", "worker", Now, default))!;
        await store.CreateSessionAsync(Token("s1", user.Id, createdAt: Now), default);
        Assert.Equal(RotationResult.Ended, await store.RotateRefreshTokenAsync("s1", Token("s2", user.Id), Now + 10, sessionStartedAfter: Now, default));
        Assert.Null((await store.FindRefreshTokenAsync("s1", default))!.UsedAt);
        Assert.Equal(RotationResult.Rotated, await store.RotateRefreshTokenAsync("s1", Token("s2", user.Id), Now + 10, sessionStartedAfter: Now - 1, default));
    }

    /// <summary>
    /// Rotation and family revocation racing, many times over: whichever goes first, once both
    /// are done no token of the family is alive (issue 11: a family revoked between the spend and
    /// the insert left the new token alive).
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task RotationRacingFamilyRevocation_NeverLeavesALiveToken(string kind)
    {
        var store = await StoreAsync(kind);
        var user = (await store.CreateUserAsync("racer", "h", "worker", Now, default))!;
        for (var i = 0; i < 40; i++)
        {
            var family = "race-" + i;
            await store.CreateSessionAsync(Token(family + "-a", user.Id, family), default);
            var rotate = Task.Run(() => store.RotateRefreshTokenAsync(family + "-a", Token(family + "-b", user.Id, family), Now + 1, 0, default));
            var revoke = Task.Run(() => store.RevokeFamilyAsync(family, Now + 2, default));
            await Task.WhenAll(rotate, revoke);
            var rotated = await rotate;
            var revoked = await revoke;
            foreach (var hash in new[] { family + "-a", family + "-b" })
            {
                var token = await store.FindRefreshTokenAsync(hash, default);
                Assert.True(token is null || token.RevokedAt is not null, $"{hash} is alive after its family was revoked ({rotated})");
            }

            // Whatever the order, the revocation knew every access token issued in the family.
            Assert.Equal(rotated == RotationResult.Rotated ? 2 : 1, revoked.Count);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task RevokedTokensAndKeys_ListAndPurge(string kind)
    {
        var store = await StoreAsync(kind);
        await store.AddRevokedTokenAsync("a", Now + 100, default);
        await store.AddRevokedTokenAsync("a", Now + 100, default);
        await store.AddRevokedTokenAsync("b", Now + 300, default);
        Assert.Equal(["b"], (await store.ListRevokedTokensAsync(Now + 200, default)).Select(t => t.Jti));
        await store.PurgeExpiredAsync(Now + 200, default);
        Assert.Equal([("b", Now + 300)], (await store.ListRevokedTokensAsync(0, default)).Select(t => (t.Jti, t.ExpiresAt)));

        var key = await store.CreateApiKeyAsync(new ApiKeyRecord { Name = "k", SecretHash = "s", Role = "worker", RatePerSecond = 2.5, RateBurst = 5, CreatedAt = 1 }, default);
        Assert.Equal(2.5, (await store.FindApiKeyAsync(key.Id, default))!.RatePerSecond);
        Assert.Empty(await store.ListRevokedApiKeyIdsAsync(default));
        Assert.True(await store.RevokeApiKeyAsync(key.Id, 2, default));
        Assert.False(await store.RevokeApiKeyAsync(key.Id, 3, default));
        Assert.Equal([key.Id], await store.ListRevokedApiKeyIdsAsync(default));
        Assert.Single(await store.ListApiKeysAsync(default));
    }

    /// <summary>
    /// Migration 0002: revoked tokens' expiry and refresh tokens' access expiry were seconds while
    /// every other time was milliseconds (and the purge used milliseconds). Rows written before it
    /// are converted; nothing is lost at the next maintenance pass.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Migration0002_ConvertsSecondsToMilliseconds(string kind)
    {
        var store = await StoreAsync(kind, migrate: false);
        var nowSeconds = Now / 1000;
        await ExecuteAsync(store, SqlAuthStore.LoadMigrations(kind == "sqlite" ? "Sqlite" : "Postgres")[0].Sql);
        await ExecuteAsync(store, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
        await ExecuteAsync(store, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, '0001_auth', 0)");
        await ExecuteAsync(store, $"INSERT INTO users (username, password_hash, role, disabled, token_generation, created_at, updated_at) VALUES ('u', 'h', 'viewer', FALSE, 0, {Now}, {Now})");
        await ExecuteAsync(store, $"INSERT INTO revoked_tokens (jti, expires_at) VALUES ('old', {nowSeconds + 600})");
        await ExecuteAsync(store, $"INSERT INTO refresh_tokens (token_hash, family_id, user_id, access_jti, access_expires_at, created_at, expires_at) VALUES ('h', 'f', 1, 'j', {nowSeconds + 900}, {Now}, {Now + 86_400_000})");

        await store.MigrateAsync(default);
        Assert.Equal(Latest, await store.SchemaVersionAsync(default));
        Assert.Equal([("old", (nowSeconds + 600) * 1000)], (await store.ListRevokedTokensAsync(Now, default)).Select(t => (t.Jti, t.ExpiresAt)));
        var migrated = (await store.FindRefreshTokenAsync("h", default))!;
        Assert.Equal((nowSeconds + 900) * 1000, migrated.AccessExpiresAt);

        // Migration 0004: the session (family) the token belongs to, begun with its first token.
        Assert.Equal(Now, migrated.SessionCreatedAt);
        await store.PurgeExpiredAsync(Now, default);
        Assert.Single(await store.ListRevokedTokensAsync(Now, default));
    }

    /// <summary>
    /// During a rolling upgrade a replica of the previous version still writes seconds: those rows
    /// are read as seconds and rewritten by the next maintenance pass, never purged as expired.
    /// </summary>
    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task RevocationWrittenInSeconds_ByAnOlderReplica_IsKept(string kind)
    {
        var store = await StoreAsync(kind);
        var nowSeconds = Now / 1000;
        await ExecuteAsync(store, $"INSERT INTO revoked_tokens (jti, expires_at) VALUES ('older', {nowSeconds + 600})");
        await ExecuteAsync(store, $"INSERT INTO revoked_tokens (jti, expires_at) VALUES ('older-expired', {nowSeconds - 600})");
        Assert.Equal([("older", (nowSeconds + 600) * 1000)], (await store.ListRevokedTokensAsync(Now, default)).Select(t => (t.Jti, t.ExpiresAt)));
        await store.PurgeExpiredAsync(Now, default);
        Assert.Equal([("older", (nowSeconds + 600) * 1000)], (await store.ListRevokedTokensAsync(0, default)).Select(t => (t.Jti, t.ExpiresAt)));
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task LoginAddresses_AreKnownSinceTheirLastLogin_AndForgotten(string kind)
    {
        var store = await StoreAsync(kind);
        var user = (await store.CreateUserAsync("carol", "h", "viewer", Now, default))!;
        Assert.False(await store.IsKnownAddressAsync(user.Id, "10.0.0.1", 0, default));
        await store.RememberAddressAsync(user.Id, "10.0.0.1", Now, default);
        await store.RememberAddressAsync(user.Id, "10.0.0.1", Now + 1000, default);
        await store.RememberAddressAsync(user.Id, "::1", Now - 1000, default);
        Assert.True(await store.IsKnownAddressAsync(user.Id, "10.0.0.1", Now + 1000, default));
        Assert.False(await store.IsKnownAddressAsync(user.Id, "10.0.0.1", Now + 1001, default));
        Assert.False(await store.IsKnownAddressAsync(user.Id + 1, "10.0.0.1", 0, default));
        await store.ForgetAddressesAsync(Now, default);
        Assert.False(await store.IsKnownAddressAsync(user.Id, "::1", 0, default));
        Assert.True(await store.IsKnownAddressAsync(user.Id, "10.0.0.1", 0, default));
    }

    private async Task ExecuteAsync(IAuthStore store, string sql)
    {
        // Straight to the database, below the store's API: rows as an earlier schema or version wrote them.
        var connectionString = _connections[store];
        await using System.Data.Common.DbConnection connection = store is SqliteAuthStore
            ? new Microsoft.Data.Sqlite.SqliteConnection(connectionString)
            : new Npgsql.NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
#pragma warning disable CA2100 // Test SQL built from constants.
        command.CommandText = sql;
#pragma warning restore CA2100
        await command.ExecuteNonQueryAsync();
    }
}
