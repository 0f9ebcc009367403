using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Gateway.Testing;
using Npgsql;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// Demoting, disabling or deleting admins concurrently can never leave none (issue 11): the check
/// and the change are one transaction. On PostgreSQL the test forces the worst interleaving (both
/// requests read before either writes) by holding a lock that lets reads through and stops
/// writes; on both stores it also races plain concurrent requests, round after round.
/// </summary>
public abstract class LastAdminTests : IAsyncLifetime
{
    private string _repository = null!;

    protected GatewayServer Server { get; private set; } = null!;

    protected abstract Task<string[]> StoreArgumentsAsync();

    public async Task InitializeAsync()
    {
        _repository = ReferenceModels.CreateRepository("identity");
        Server = await GatewayServer.StartAsync(_repository, await StoreArgumentsAsync());
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    protected async Task<(long Id, string Token)> AdminAsync(string name)
    {
        var (id, token, _) = await AuthApi.UserAsync(Server, name, "admin");
        return (id, token);
    }

    protected static Task<HttpResponseMessage> ChangeAsync(GatewayServer server, string kind, string token, long target) => kind switch
    {
        "demote" => AuthApi.SendAsync(server, HttpMethod.Patch, $"/v1/users/{target}", token, AuthApi.Json(new { role = "viewer" })),
        "disable" => AuthApi.SendAsync(server, HttpMethod.Patch, $"/v1/users/{target}", token, AuthApi.Json(new { disabled = true })),
        _ => AuthApi.SendAsync(server, HttpMethod.Delete, $"/v1/users/{target}", token),
    };

    public static TheoryData<string, string> Pairs => new()
    {
        { "demote", "demote" }, { "delete", "delete" }, { "disable", "delete" }, { "demote", "disable" },
    };

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task TwoAdminsRemovingEachOther_Concurrently_LeaveOne(string first, string second)
    {
        // The bootstrap admin steps aside so that exactly two admins race.
        var (aId, a) = await AdminAsync("first-" + first);
        var (bId, b) = await AdminAsync("second-" + second);
        var bootstrap = JsonDocument.Parse(await Server.Client.GetStringAsync("/v1/users/me")).RootElement.GetProperty("id").GetInt64();
        using (var aside = await AuthApi.SendAsync(Server, HttpMethod.Patch, $"/v1/users/{bootstrap}", a, AuthApi.Json(new { role = "supervisor" })))
        {
            Assert.Equal(HttpStatusCode.OK, aside.StatusCode);
        }

        var results = await Task.WhenAll(ChangeAsync(Server, first, a, bId), ChangeAsync(Server, second, b, aId));
        var statuses = results.Select(r => r.StatusCode).ToArray();
        foreach (var result in results)
        {
            result.Dispose();
        }

        // One wins; the other is refused as the last admin (409), or already by its own ended session (401).
        Assert.Single(statuses, s => s is HttpStatusCode.OK or HttpStatusCode.NoContent);
        Assert.Single(statuses, s => s is HttpStatusCode.Conflict or HttpStatusCode.Unauthorized);
        Assert.Equal(1, await CountActiveAdminsInStoreAsync());
    }

    /// <summary>The store's own answer, not the API's (which needs an admin).</summary>
    protected abstract Task<long> CountActiveAdminsInStoreAsync();
}

public sealed class SqliteLastAdminTests : LastAdminTests
{
    private readonly string _data = Directory.CreateTempSubdirectory().FullName;

    protected override Task<string[]> StoreArgumentsAsync() => Task.FromResult(new[] { "--Storage:SqlitePath", Path.Combine(_data, "admins.db") });

    protected override async Task<long> CountActiveAdminsInStoreAsync()
    {
        await using var db = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_data, "admins.db")}");
        await db.OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0 AND deleted_at IS NULL";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}

public sealed class PostgresLastAdminTests : LastAdminTests
{
    private string _database = null!;

    protected override async Task<string[]> StoreArgumentsAsync()
    {
        _database = await TestServices.CreatePostgresDatabaseAsync();
        return ["--Storage:Postgres", _database];
    }

    protected override async Task<long> CountActiveAdminsInStoreAsync()
    {
        await using var db = new NpgsqlConnection(_database);
        await db.OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM users WHERE role = 'admin' AND NOT disabled AND deleted_at IS NULL";
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// The worst interleaving, forced: a lock on <c>users</c> that lets reads through and stops
    /// writes, until both requests wait on it; then both go on. Checking and changing in separate
    /// steps, both saw another admin and both went ahead.
    /// </summary>
    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task BothReadBeforeEitherWrites_StillLeaveOne(string first, string second)
    {
        var (aId, a) = await AdminAsync("a-" + first);
        var (bId, b) = await AdminAsync("b-" + second);
        var bootstrap = JsonDocument.Parse(await Server.Client.GetStringAsync("/v1/users/me")).RootElement.GetProperty("id").GetInt64();
        using (var aside = await AuthApi.SendAsync(Server, HttpMethod.Patch, $"/v1/users/{bootstrap}", a, AuthApi.Json(new { role = "supervisor" })))
        {
            Assert.Equal(HttpStatusCode.OK, aside.StatusCode);
        }

        await using var blocker = new NpgsqlConnection(_database);
        await blocker.OpenAsync();
        var transaction = await blocker.BeginTransactionAsync();
        await using (var command = blocker.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "LOCK TABLE users IN EXCLUSIVE MODE";
            await command.ExecuteNonQueryAsync();
        }

        var racing = Task.WhenAll(ChangeAsync(Server, first, a, bId), ChangeAsync(Server, second, b, aId));
        await using (var probe = new NpgsqlConnection(_database))
        {
            await probe.OpenAsync();
            var clock = Stopwatch.StartNew();
            while (true)
            {
                await using var command = probe.CreateCommand();
                command.CommandText = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
                if ((long)(await command.ExecuteScalarAsync())! >= 2)
                {
                    break;
                }

                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), "the two changes never both waited");
                await Task.Delay(20);
            }
        }

        await transaction.RollbackAsync();
        var results = await racing;
        var statuses = results.Select(r => r.StatusCode).ToArray();
        foreach (var result in results)
        {
            result.Dispose();
        }

        Assert.Equal(1, await CountActiveAdminsInStoreAsync());
        Assert.Single(statuses, s => s == HttpStatusCode.Conflict);
    }
}
