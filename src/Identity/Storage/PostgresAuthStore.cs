using System.Data.Common;
using Dapper;
using Npgsql;

namespace Gateway.Storage;

/// <summary>
/// The store on PostgreSQL. Migrations run under a session advisory lock, so replicas starting
/// together apply each migration once: the first takes the lock and migrates, the others wait
/// and then find nothing left to do.
/// </summary>
internal sealed class PostgresAuthStore : SqlAuthStore
{
    /// <summary>The advisory lock key: "gateway" folded into 64 bits; any constant works if it is the same on every replica.</summary>
    private const long MigrationLockKey = 0x6761_7465_7761_7901;

    private readonly NpgsqlDataSource _dataSource;
    private readonly TimeProvider _time;

    /// <param name="connectionString">An Npgsql connection string; a password in it wins over the secret.</param>
    /// <param name="secrets">Supplies <c>Storage:PostgresPassword</c>, read again every few minutes so a rotated password is picked up for new connections.</param>
    /// <param name="time">The clock for migration timestamps.</param>
    public PostgresAuthStore(string connectionString, Secrets.SecretChain? secrets, TimeProvider time)
        : base("postgres", time)
    {
        var builder = new NpgsqlDataSourceBuilder(connectionString);
        if (secrets is not null && string.IsNullOrEmpty(builder.ConnectionStringBuilder.Password))
        {
            builder.UsePeriodicPasswordProvider(
                async (_, cancellationToken) => await secrets.GetAsync(Auth.AuthStartup.PostgresPasswordSecret, cancellationToken) ?? string.Empty,
                TimeSpan.FromMinutes(5),
                TimeSpan.FromSeconds(5));
        }

        _dataSource = builder.Build();
        _time = time;
    }

    public override string Kind => "postgres";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken) =>
        await _dataSource.OpenConnectionAsync(cancellationToken);

    protected override bool IsOutage(Exception exception) => IsUnreachable(exception);

    /// <summary>
    /// The database cannot be reached: a connection refused, cut or timed out (Npgsql's own
    /// exceptions), or the server refusing work for now (connection errors, class 08; shutdown
    /// and start-up, 57P01 to 57P03; out of resources, 53; system errors, 58). A constraint
    /// violation or bad SQL is a bug, not an outage, and stays a 500.
    /// </summary>
    internal static bool IsUnreachable(Exception exception) => exception switch
    {
        PostgresException postgres => postgres.IsTransient
            || postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
            || postgres.SqlState.StartsWith("53", StringComparison.Ordinal)
            || postgres.SqlState.StartsWith("57P", StringComparison.Ordinal)
            || postgres.SqlState.StartsWith("58", StringComparison.Ordinal),
        NpgsqlException => true,
        System.Net.Sockets.SocketException or TimeoutException or IOException => true,
        _ => false,
    };

    /// <summary>Another constant: the lock that serializes changes which can take an admin away.</summary>
    private const long UserChangesLockKey = 0x6761_7465_7761_7902;

    /// <summary>
    /// A transaction-scoped advisory lock: two admins demoting or deleting each other at once take
    /// turns, and the second sees the first's change when it counts the admins left.
    /// </summary>
    protected override Task LockUserChangesAsync(DbConnection connection, DbTransaction transaction) =>
        connection.ExecuteAsync("SELECT pg_advisory_xact_lock(@key)", new { key = UserChangesLockKey }, transaction);

    public override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync("SELECT pg_advisory_lock(@key)", new { key = MigrationLockKey });
        try
        {
            await ApplyMigrationsAsync(connection, "Postgres", _time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@key)", new { key = MigrationLockKey });
        }
    }

    public override async ValueTask DisposeAsync() => await _dataSource.DisposeAsync();
}
