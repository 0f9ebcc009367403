using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// PostgreSQL (a server of the test's own) stops while the gateway runs, then starts again. The
/// rule (docs/RUNBOOK.md, "Dependencies"): tokens already issued keep working for inference; the
/// identity endpoints answer 503 with Retry-After, never 500; readiness stays 200 (one shared
/// database must not take every replica out of the load balancer at once) while
/// <c>/health/details</c> names the store as degraded; service resumes by itself.
/// </summary>
public sealed class PostgresOutageTests : IDisposable
{
    private readonly PostgresProcess _postgres = new();
    private readonly string _repository = ReferenceModels.CreateRepository("identity");

    public void Dispose()
    {
        _postgres.Dispose();
        Directory.Delete(_repository, recursive: true);
    }

    [Fact]
    public async Task PostgresDown_IdentityAnswers503_IssuedTokensServe_ReadyStays200_AndItRecovers()
    {
        await using var server = await GatewayServer.StartAsync(
            _repository, "--Storage:Postgres", _postgres.ConnectionString, "--Storage:HealthCheckSeconds", "1",
            "--RateLimit:LoginPerAccount:Burst", "1000", "--RateLimit:LoginPerAddress:Burst", "1000");
        var (workerId, worker, workerRefresh) = await AuthApi.UserAsync(server, "outage-worker", "worker");
        var (keyId, key) = await AuthApi.KeyAsync(server, "seen before", "worker");
        using (var seen = await AuthApi.InferAsync(server, key))
        {
            Assert.Equal(HttpStatusCode.OK, seen.StatusCode);
        }

        _postgres.Stop();

        // Issued access tokens and API keys seen before are checked in memory: inference goes on.
        foreach (var credential in new[] { server.AccessToken, worker, key })
        {
            using var infer = await AuthApi.InferAsync(server, credential);
            Assert.Equal(HttpStatusCode.OK, infer.StatusCode);
        }

        // Everything that needs the store: 503 with Retry-After and a JSON error naming the store.
        var admin = server.AccessToken;
        (HttpMethod Method, string Path, string? Bearer, Func<HttpContent?> Body)[] calls =
        [
            (HttpMethod.Post, "/v1/auth/login", null, () => AuthApi.Json(new { username = "admin", password = GatewayServer.AdminPassword })),
            (HttpMethod.Post, "/v1/auth/login", null, () => AuthApi.Json(new { username = "nobody", password = "wrong-password" })),
            (HttpMethod.Post, "/v1/auth/refresh", null, () => AuthApi.Json(new { refresh_token = workerRefresh })),
            (HttpMethod.Post, "/v1/auth/logout", worker, () => null),
            (HttpMethod.Get, "/v1/users/me", worker, () => null),
            (HttpMethod.Post, "/v1/users/me/password", worker, () => AuthApi.Json(new { current_password = "user-passphrase-1", new_password = "another-passphrase" })),
            (HttpMethod.Get, "/v1/users", admin, () => null),
            (HttpMethod.Post, "/v1/users", admin, () => AuthApi.Json(new { username = "newcomer", password = "user-passphrase-1", role = "viewer" })),
            (HttpMethod.Get, $"/v1/users/{workerId}", admin, () => null),
            (HttpMethod.Patch, $"/v1/users/{workerId}", admin, () => AuthApi.Json(new { role = "viewer" })),
            (HttpMethod.Delete, $"/v1/users/{workerId}", admin, () => null),
            (HttpMethod.Get, "/v1/keys", admin, () => null),
            (HttpMethod.Post, "/v1/keys", admin, () => AuthApi.Json(new { name = "new key", role = "viewer" })),
            (HttpMethod.Delete, $"/v1/keys/{keyId}", admin, () => null),
            // A key never seen before must be looked up: it cannot be checked now.
            (HttpMethod.Post, "/v2/models/identity/infer", $"gk_{keyId + 7}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", () => AuthApi.Raw(AuthApi.IdentityBody)),
        ];
        foreach (var (method, path, bearer, body) in calls)
        {
            using var response = await AuthApi.SendAsync(server, method, path, bearer, body());
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{method} {path}: {(int)response.StatusCode} {text}");
            Assert.True(response.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, $"{method} {path}: no Retry-After");
            Assert.Contains("identity store", JsonDocument.Parse(text).RootElement.GetProperty("error").GetString());
        }

        // The failed logout changed nothing: the worker's token still serves.
        using (var still = await AuthApi.InferAsync(server, worker))
        {
            Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        }

        // Readiness stays up; the detailed view names the store as degraded.
        foreach (var probe in new[] { "/health/ready", "/v2/health/ready" })
        {
            using var ready = await server.NewClient().GetAsync(probe);
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        var (status, description) = await DependenciesAsync(server);
        Assert.Equal("Degraded", status);
        Assert.Contains("postgres", description);
        Assert.DoesNotContain(server.Logs.Lines, line => line.Contains("unhandled exception", StringComparison.OrdinalIgnoreCase));

        // Back again: the gateway notices by itself.
        _postgres.Start();
        var clock = Stopwatch.StartNew();
        var last = HttpStatusCode.ServiceUnavailable;
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            using var login = await server.NewClient().PostAsync("/v1/auth/login", AuthApi.Json(new { username = "admin", password = GatewayServer.AdminPassword }));
            last = login.StatusCode;
            if (last == HttpStatusCode.OK)
            {
                break;
            }

            Assert.Equal(HttpStatusCode.ServiceUnavailable, last);
            await Task.Delay(100);
        }

        Assert.Equal(HttpStatusCode.OK, last);
        Assert.Equal("Healthy", (await DependenciesAsync(server)).Status);
    }

    private static async Task<(string Status, string Description)> DependenciesAsync(GatewayServer server)
    {
        using var detail = JsonDocument.Parse(await server.Client.GetStringAsync("/health/details"));
        var dependencies = detail.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "dependencies");
        return (dependencies.GetProperty("status").GetString()!, dependencies.TryGetProperty("description", out var d) ? d.GetString()! : string.Empty);
    }
}
