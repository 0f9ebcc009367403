using Gateway.Storage;
using Gateway.Testing;

namespace Gateway.Tests.Storage;

/// <summary>
/// The store tests of Gateway.Tests (linked into this project) on PostgreSQL 15, and what only
/// PostgreSQL has: replicas migrating one database at the same time.
/// </summary>
public sealed partial class AuthStoreTests
{
    public static TheoryData<string> Kinds => new() { "postgres" };

    [Fact]
    public async Task Postgres_ReplicasMigratingTogether_ApplyEachMigrationOnce()
    {
        var database = await TestServices.CreatePostgresDatabaseAsync();
        var replicas = Enumerable.Range(0, 6).Select(_ => new PostgresAuthStore(database, null, TimeProvider.System)).ToList();
        _stores.AddRange(replicas);
        await Task.WhenAll(replicas.Select(r => r.MigrateAsync(default)));
        Assert.All(await Task.WhenAll(replicas.Select(r => r.SchemaVersionAsync(default))), v => Assert.Equal(Latest, v));
    }
}
