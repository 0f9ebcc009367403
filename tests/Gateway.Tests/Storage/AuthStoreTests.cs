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

    private async Task<IAuthStore> StoreAsync(string kind, bool migrate = true)
    {
        IAuthStore store = kind == "sqlite"
            ? new SqliteAuthStore(Path.Combine(_directory, Guid.NewGuid().ToString("N") + ".db"), TimeProvider.System)
            : new PostgresAuthStore(await TestServices.CreatePostgresDatabaseAsync(), null, TimeProvider.System);
        _stores.Add(store);
        if (migrate)
        {
            await store.MigrateAsync(default);
        }

        return store;
    }

    public static TheoryData<string> Kinds => new() { "sqlite", "postgres" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Migrations_AreIdempotent(string kind)
    {
        var store = await StoreAsync(kind);
        await store.MigrateAsync(default);
        Assert.Equal(1, await store.SchemaVersionAsync(default));
        Assert.Equal(kind, store.Kind);
    }

    [Fact]
    public async Task Postgres_ReplicasMigratingTogether_ApplyEachMigrationOnce()
    {
        var database = await TestServices.CreatePostgresDatabaseAsync();
        var replicas = Enumerable.Range(0, 6).Select(_ => new PostgresAuthStore(database, null, TimeProvider.System)).ToList();
        _stores.AddRange(replicas);
        await Task.WhenAll(replicas.Select(r => r.MigrateAsync(default)));
        Assert.All(await Task.WhenAll(replicas.Select(r => r.SchemaVersionAsync(default))), v => Assert.Equal(1, v));
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
                TokenHash = hash, FamilyId = "fam", UserId = user.Id, AccessJti = "jti-" + hash, AccessExpiresAt = 99, CreatedAt = 1, ExpiresAt = 10_000,
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
        await store.AddRevokedTokenAsync("a", 100, default);
        await store.AddRevokedTokenAsync("a", 100, default);
        await store.AddRevokedTokenAsync("b", 300, default);
        Assert.Equal(["b"], (await store.ListRevokedTokensAsync(200, default)).Select(t => t.Jti));
        await store.PurgeExpiredAsync(200, default);
        Assert.Single(await store.ListRevokedTokensAsync(0, default));

        var key = await store.CreateApiKeyAsync(new ApiKeyRecord { Name = "k", SecretHash = "s", Role = "worker", RatePerSecond = 2.5, RateBurst = 5, CreatedAt = 1 }, default);
        Assert.Equal(2.5, (await store.FindApiKeyAsync(key.Id, default))!.RatePerSecond);
        Assert.Empty(await store.ListRevokedApiKeyIdsAsync(default));
        Assert.True(await store.RevokeApiKeyAsync(key.Id, 2, default));
        Assert.False(await store.RevokeApiKeyAsync(key.Id, 3, default));
        Assert.Equal([key.Id], await store.ListRevokedApiKeyIdsAsync(default));
        Assert.Single(await store.ListApiKeysAsync(default));
    }
}
