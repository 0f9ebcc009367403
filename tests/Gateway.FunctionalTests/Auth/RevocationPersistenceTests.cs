using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using Gateway.Testing;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// A token logged out on one replica stays refused by a replica started later (autoscaling, a
/// restart, recovery after a Redis outage), after the maintenance pass has run in between.
/// </summary>
public sealed class RevocationPersistenceTests : IDisposable
{
    private readonly string _repository = ReferenceModels.CreateRepository("identity");
    private readonly string _data = Directory.CreateTempSubdirectory().FullName;
    private readonly string _keys = "k1:" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public void Dispose()
    {
        Directory.Delete(_repository, recursive: true);
        SqliteConnection.ClearAllPools();
        Directory.Delete(_data, recursive: true);
    }

    public static TheoryData<string> Kinds => new() { "sqlite", "postgres" };

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task LoggedOutToken_StaysRefused_ByAReplicaStartedAfterAMaintenancePass(string kind)
    {
        string[] store = kind == "sqlite"
            ? ["--Storage:SqlitePath", Path.Combine(_data, "shared.db")]
            : ["--Storage:Postgres", await TestServices.CreatePostgresDatabaseAsync()];
        string[] args = [.. store, "--Auth:JwtSigningKeys", _keys, "--Auth:RevocationResyncSeconds", "1"];

        string access;
        await using (var first = await GatewayServer.StartAsync(_repository, args))
        {
            (_, access, var refresh) = await AuthApi.UserAsync(first, "leaver", "worker");
            using (var logout = await AuthApi.SendAsync(first, HttpMethod.Post, "/v1/auth/logout", access, AuthApi.Json(new { refresh_token = refresh })))
            {
                Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
            }

            // A long-expired revocation marks the next maintenance pass: when it is gone, a purge ran after the logout.
            await ExecuteAsync(kind, store[1], "INSERT INTO revoked_tokens (jti, expires_at) VALUES ('pass-marker', 1)");
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (await CountAsync(kind, store[1], "SELECT COUNT(*) FROM revoked_tokens WHERE jti = 'pass-marker'") > 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "no maintenance pass within 20 s");
                await Task.Delay(100);
            }
        }

        await using var second = await GatewayServer.StartAsync(_repository, args);
        using var infer = await AuthApi.InferAsync(second, access);
        Assert.Contains("revoked", await AuthApi.ErrorAsync(infer, HttpStatusCode.Unauthorized));
    }

    private static async Task ExecuteAsync(string kind, string connection, string sql)
    {
        await using var db = Open(kind, connection);
        await db.OpenAsync();
        await using var command = db.CreateCommand();
#pragma warning disable CA2100 // Constant test SQL.
        command.CommandText = sql;
#pragma warning restore CA2100
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> CountAsync(string kind, string connection, string sql)
    {
        await using var db = Open(kind, connection);
        await db.OpenAsync();
        await using var command = db.CreateCommand();
#pragma warning disable CA2100 // Constant test SQL.
        command.CommandText = sql;
#pragma warning restore CA2100
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static System.Data.Common.DbConnection Open(string kind, string connection) =>
        kind == "sqlite" ? new SqliteConnection($"Data Source={connection}") : new NpgsqlConnection(connection);
}
