using Npgsql;

namespace Gateway.Testing;

/// <summary>
/// The PostgreSQL 15 and Redis 7 that <c>./build.sh test</c> starts on loopback and describes in
/// <c>GATEWAY_TEST_POSTGRES</c>, <c>GATEWAY_TEST_REDIS</c> and <c>GATEWAY_TEST_REDIS_SERVER</c>.
/// Tests that need them fail with this message when they are missing, never skip.
/// </summary>
public static class TestServices
{
    private const string Missing = "is not set: run ./build.sh test, which starts PostgreSQL 15 and Redis 7 on loopback and exports it";

    public static string Postgres => Environment.GetEnvironmentVariable("GATEWAY_TEST_POSTGRES") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("GATEWAY_TEST_POSTGRES " + Missing);

    public static string Redis => Environment.GetEnvironmentVariable("GATEWAY_TEST_REDIS") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("GATEWAY_TEST_REDIS " + Missing);

    public static string RedisServer => Environment.GetEnvironmentVariable("GATEWAY_TEST_REDIS_SERVER") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("GATEWAY_TEST_REDIS_SERVER " + Missing);

    /// <summary>The password in <see cref="Postgres"/> (tests check it never reaches a log).</summary>
    public static string PostgresPassword => new NpgsqlConnectionStringBuilder(Postgres).Password!;

    /// <summary>A fresh, empty database on the test server; returns its connection string.</summary>
    public static async Task<string> CreatePostgresDatabaseAsync()
    {
        var name = "gw_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(Postgres))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
#pragma warning disable CA2100 // The name is a GUID made here, not input.
            command.CommandText = $"CREATE DATABASE {name}";
#pragma warning restore CA2100
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(Postgres) { Database = name }.ConnectionString;
    }

    /// <summary>The same connection string without its password (given separately as a secret).</summary>
    public static string WithoutPassword(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Password = null }.ConnectionString;
}
