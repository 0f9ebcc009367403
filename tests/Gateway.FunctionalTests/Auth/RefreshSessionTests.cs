using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Gateway.Testing;
using Npgsql;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// Refresh-token rotation against family revocation, on PostgreSQL: a session ended while one of
/// its refreshes is under way must leave no live token behind; and a session has an absolute
/// lifetime that rotation does not extend.
/// </summary>
public sealed class RefreshSessionTests : IAsyncLifetime
{
    private string _repository = null!;
    private string _database = null!;
    private GatewayServer _server = null!;

    public async Task InitializeAsync()
    {
        _repository = ReferenceModels.CreateRepository("identity");
        _database = await TestServices.CreatePostgresDatabaseAsync();
        _server = await GatewayServer.StartAsync(_repository, "--Storage:Postgres", _database);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    /// <summary>
    /// Issue 11: spending the old token and inserting the new one were separate steps, so a family
    /// revoked in between (a logout of the session, reuse detection) left the new token alive.
    /// The test holds a lock on <c>users</c> so the refresh stops between its reads and its
    /// writes, ends the session meanwhile, then lets the refresh go on.
    /// </summary>
    [Fact]
    public async Task SessionEndedDuringARefresh_LeavesNoLiveToken()
    {
        var (_, access, refresh) = await AuthApi.UserAsync(_server, "rotating", "worker");
        await using var blocker = new NpgsqlConnection(_database);
        await blocker.OpenAsync();
        var transaction = await blocker.BeginTransactionAsync();
        await Sql(blocker, "LOCK TABLE users IN ACCESS EXCLUSIVE MODE", transaction);

        var refreshing = Task.Run(async () =>
        {
            using var client = _server.NewClient();
            using var response = await client.PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = refresh }));
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        });
        await WaitForLockWaiterAsync();

        using (var logout = await AuthApi.SendAsync(_server, HttpMethod.Post, "/v1/auth/logout", access))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        await transaction.RollbackAsync();
        var (status, body) = await refreshing;
        if (status == HttpStatusCode.OK)
        {
            // The refresh finished after the logout: what it handed out must already be dead.
            var tokens = JsonDocument.Parse(body).RootElement;
            using var again = await _server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = tokens.GetProperty("refresh_token").GetString() }));
            Assert.True(again.StatusCode == HttpStatusCode.Unauthorized, $"the token rotated during the logout still refreshes: {(int)again.StatusCode}");
            using var infer = await AuthApi.InferAsync(_server, tokens.GetProperty("access_token").GetString());
            Assert.True(infer.StatusCode == HttpStatusCode.Unauthorized, $"the access token rotated during the logout still serves: {(int)infer.StatusCode}");
        }
        else
        {
            Assert.Equal(HttpStatusCode.Unauthorized, status);
        }
    }

    [Fact]
    public async Task Session_HasAnAbsoluteLifetime_ThatRotationDoesNotExtend()
    {
        var (id, _, refresh) = await AuthApi.UserAsync(_server, "long-lived", "viewer");
        using (var rotated = await _server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = refresh })))
        {
            Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
            refresh = JsonDocument.Parse(await rotated.Content.ReadAsStringAsync()).RootElement.GetProperty("refresh_token").GetString()!;
        }

        // The session began 30 days and a minute ago (Auth:SessionDays, 30); its newest token is a second old.
        await using (var db = new NpgsqlConnection(_database))
        {
            await db.OpenAsync();
            await Sql(db, $"UPDATE refresh_families SET created_at = created_at - {(30L * 86_400 + 60) * 1000} WHERE user_id = {id}");
        }

        using var expired = await _server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = refresh }));
        Assert.Contains("log in again", await AuthApi.ErrorAsync(expired, HttpStatusCode.Unauthorized));
    }

    private async Task WaitForLockWaiterAsync()
    {
        await using var probe = new NpgsqlConnection(_database);
        await probe.OpenAsync();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            await using var command = probe.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
            if ((long)(await command.ExecuteScalarAsync())! > 0)
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("the refresh never waited on the lock");
    }

    private static async Task Sql(NpgsqlConnection connection, string sql, NpgsqlTransaction? transaction = null)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
#pragma warning disable CA2100 // Test SQL built from constants.
        command.CommandText = sql;
#pragma warning restore CA2100
        await command.ExecuteNonQueryAsync();
    }
}
