using Gateway.Storage;
using Gateway.Testing;

namespace Gateway.Tests.Storage;

/// <summary>The same behaviour from both stores: SQLite (embedded) and PostgreSQL 15 (the one build.sh starts).</summary>
public sealed class AuthStoreTests : IAsyncLifetime
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

    public static TheoryData<string> Kinds => new() { "sqlite", "postgres" };

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

    [Fact]
    public async Task Postgres_ReplicasMigratingTogether_ApplyEachMigrationOnce()
    {
        var database = await TestServices.CreatePostgresDatabaseAsync();
        var replicas = Enumerable.Range(0, 6).Select(_ => new PostgresAuthStore(database, null, TimeProvider.System)).ToList();
        _stores.AddRange(replicas);
        await Task.WhenAll(replicas.Select(r => r.MigrateAsync(default)));
        Assert.All(await Task.WhenAll(replicas.Select(r => r.SchemaVersionAsync(default))), v => Assert.Equal(Latest, v));
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

        user.Role = "supervisor";
        user.Disabled = true;
        Assert.True(await store.UpdateUserAsync(user, 2000, default));
        var read = (await store.FindUserAsync(user.Id, default))!;
        Assert.Equal("supervisor", read.Role);
        Assert.True(read.Disabled);
        Assert.Equal(2000, read.UpdatedAt);

        Assert.Equal(1, await store.EndSessionsAsync(user.Id, 3000, default));
        Assert.Equal(2, await store.DeleteUserAsync(user.Id, 4000, default));
        Assert.Null(await store.FindUserAsync(user.Id, default));
        Assert.Null(await store.DeleteUserAsync(user.Id, 4000, default));
        Assert.Contains(await store.ListUserGenerationsAsync(default), g => g.Id == user.Id && g.TokenGeneration == 2);
        Assert.NotNull(await store.CreateUserAsync("alice", "hash", "viewer", 5000, default));
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

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task RefreshToken_SpentOnceEvenUnderConcurrency_AndFamiliesRevoke(string kind)
    {
        var store = await StoreAsync(kind);
        var user = (await store.CreateUserAsync("bob", "h", "worker", 1, default))!;
        foreach (var hash in new[] { "h1", "h2" })
        {
            await store.InsertRefreshTokenAsync(new RefreshTokenRecord
            {
                TokenHash = hash,
                FamilyId = "fam",
                UserId = user.Id,
                AccessJti = "jti-" + hash,
                AccessExpiresAt = 99,
                CreatedAt = 1,
                ExpiresAt = 10_000,
            }, default);
        }

        var spends = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => store.SpendRefreshTokenAsync("h1", 5, default)));
        Assert.Single(spends, s => s);
        Assert.Equal(5, (await store.FindRefreshTokenAsync("h1", default))!.UsedAt);

        var family = await store.RevokeFamilyAsync("fam", 6, default);
        Assert.Equal(["jti-h1", "jti-h2"], family.Select(f => f.AccessJti).Order());
        Assert.False(await store.SpendRefreshTokenAsync("h2", 7, default));
        Assert.Equal(6, (await store.FindRefreshTokenAsync("h2", default))!.RevokedAt);

        await store.PurgeExpiredAsync(20_000, default);
        Assert.Null(await store.FindRefreshTokenAsync("h2", default));
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
        Assert.Equal((nowSeconds + 900) * 1000, (await store.FindRefreshTokenAsync("h", default))!.AccessExpiresAt);
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
