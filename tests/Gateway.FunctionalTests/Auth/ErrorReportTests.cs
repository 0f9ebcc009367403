using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;
using Gateway.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// With Sentry enabled, an error during a request is reported with the request, and no
/// credential travels with it: no credential header (Authorization, Cookie, X-API-Key,
/// Proxy-Authorization, any *token*, *secret* or *password* header) and no auth request body.
/// A receiver on loopback stands in for Sentry's ingest endpoint.
/// </summary>
public sealed class ErrorReportTests : IAsyncLifetime
{
    private readonly ConcurrentQueue<string> _envelopes = new();
    private readonly string _repository = ReferenceModels.CreateRepository("identity");
    private WebApplication _receiver = null!;
    private Uri _receiverAddress = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _receiver = builder.Build();
        _receiver.Run(async context =>
        {
            Stream source = context.Request.Body;
            if (string.Equals(context.Request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase))
            {
                source = new GZipStream(source, CompressionMode.Decompress);
            }

            using var reader = new StreamReader(source, Encoding.UTF8);
            _envelopes.Enqueue(await reader.ReadToEndAsync());
            context.Response.StatusCode = StatusCodes.Status200OK;
        });
        await _receiver.StartAsync();
        _receiverAddress = new Uri(_receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public async Task DisposeAsync()
    {
        await _receiver.StopAsync();
        await _receiver.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    [Fact]
    public async Task ErrorDuringALogin_IsReported_WithoutAnyCredential()
    {
        var data = Directory.CreateTempSubdirectory().FullName;
        var database = Path.Combine(data, "gateway.db");
        var dsn = $"http://0123456789abcdef0123456789abcdef@127.0.0.1:{_receiverAddress.Port}/42";
        await using (var server = await GatewayServer.StartAsync(_repository, "--Storage:SqlitePath", database, "--Sentry:Dsn", dsn))
        {
            // A bug, not an outage: the store's users table is gone, so a login fails with a 500.
            SqliteConnection.ClearAllPools();
            await using (var db = new SqliteConnection($"Data Source={database}"))
            {
                await db.OpenAsync();
                await using var command = db.CreateCommand();
                command.CommandText = "ALTER TABLE users RENAME TO users_gone";
                await command.ExecuteNonQueryAsync();
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/auth/login")
            {
                Content = AuthApi.Json(new { username = "admin", password = "body-password-secret-1" }),
            };
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer authorization-secret-2");
            request.Headers.TryAddWithoutValidation("Cookie", "session=cookie-secret-3");
            request.Headers.TryAddWithoutValidation("X-API-Key", "gk_1_api-key-secret-4");
            request.Headers.TryAddWithoutValidation("Proxy-Authorization", "Basic proxy-secret-5");
            request.Headers.TryAddWithoutValidation("X-Refresh-Token", "refresh-token-secret-6");
            request.Headers.TryAddWithoutValidation("X-Client-Secret", "client-secret-7");
            request.Headers.TryAddWithoutValidation("X-Password", "password-header-secret-8");
            request.Headers.TryAddWithoutValidation("X-Harmless", "harmless-value-visible");
            using var response = await server.NewClient().SendAsync(request);
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);

            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!_envelopes.Any(e => e.Contains("harmless-value-visible", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(data, recursive: true);
        var envelope = _envelopes.FirstOrDefault(e => e.Contains("harmless-value-visible", StringComparison.Ordinal));
        Assert.True(envelope is not null, "no Sentry event with the request's headers arrived:\n" + string.Join("\n---\n", _envelopes));
        Assert.Contains("/v1/auth/login", envelope);
        foreach (var secret in new[]
        {
            "body-password-secret-1", "authorization-secret-2", "cookie-secret-3", "api-key-secret-4",
            "proxy-secret-5", "refresh-token-secret-6", "client-secret-7", "password-header-secret-8",
        })
        {
            Assert.False(envelope.Contains(secret, StringComparison.Ordinal), $"the error report carries '{secret}':\n{envelope}");
        }
    }
}
