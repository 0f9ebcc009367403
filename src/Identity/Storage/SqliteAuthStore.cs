using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Gateway.Storage;

/// <summary>
/// The store on an embedded SQLite file, for a single node that needs no database server.
/// WAL journaling lets readers run beside the one writer; a busy timeout makes writers queue.
/// </summary>
internal sealed class SqliteAuthStore : SqlAuthStore
{
    private readonly string _connectionString;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _migrationLock = new(1, 1);

    public SqliteAuthStore(string path, TimeProvider time)
        : base("sqlite", time)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _time = time;
    }

    public override string Kind => "sqlite";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await connection.ExecuteAsync("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;");
        return connection;
    }

    /// <summary>
    /// The file cannot be used for now: busy or locked past the timeout (5, 6), read-only (8),
    /// an I/O error (10), a full disk (13), or the file cannot be opened (14).
    /// </summary>
    protected override bool IsOutage(Exception exception) =>
        exception is SqliteException { SqliteErrorCode: 5 or 6 or 8 or 10 or 13 or 14 } or IOException or UnauthorizedAccessException;

    public override async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await _migrationLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await connection.ExecuteAsync("PRAGMA journal_mode = WAL;");
            await ApplyMigrationsAsync(connection, "Sqlite", _time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        }
        finally
        {
            _migrationLock.Release();
        }
    }

    public override ValueTask DisposeAsync()
    {
        _migrationLock.Dispose();
        SqliteConnection.ClearAllPools();
        return ValueTask.CompletedTask;
    }
}
