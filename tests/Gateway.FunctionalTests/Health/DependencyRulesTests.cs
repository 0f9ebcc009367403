using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Gateway.FunctionalTests.Auth;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Health;

/// <summary>
/// The rules of docs/RUNBOOK.md, "Dependencies", for the dependencies besides PostgreSQL and
/// Redis (those have PostgresOutageTests and RedisOutageTests): an OTLP collector that is not
/// there, and a secret source whose value turns bad while the gateway runs. Neither stops
/// serving, readiness or the detailed view.
/// </summary>
public sealed class DependencyRulesTests : IDisposable
{
    private readonly string _repository = ReferenceModels.CreateRepository("identity");

    public void Dispose() => Directory.Delete(_repository, recursive: true);

    [Fact]
    public async Task OtlpCollectorAway_ServingReadinessAndDetailsUnaffected()
    {
        // Nothing listens on a fresh free port: every export is refused.
        var collector = $"http://127.0.0.1:{FreePort.Next()}";
        await using var server = await GatewayServer.StartAsync(_repository, "--OTEL_EXPORTER_OTLP_ENDPOINT", collector, "--OTEL_BSP_SCHEDULE_DELAY", "100");
        for (var i = 0; i < 20; i++)
        {
            using var infer = await AuthApi.InferAsync(server, server.AccessToken);
            Assert.Equal(HttpStatusCode.OK, infer.StatusCode);
        }

        await Task.Delay(500); // a few export rounds, each refused
        using (var ready = await server.NewClient().GetAsync("/health/ready"))
        {
            Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
        }

        using var detail = JsonDocument.Parse(await server.Client.GetStringAsync("/health/details"));
        Assert.Equal("Healthy", detail.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task SigningKeySecret_TurnedUnusable_KeepsTheKeysInUse()
    {
        var secrets = Directory.CreateTempSubdirectory().FullName;
        var file = Path.Combine(secrets, "Auth__JwtSigningKeys");
        await File.WriteAllTextAsync(file, "k1:" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)) + "\n");
        try
        {
            await using var server = await GatewayServer.StartAsync(_repository, "--Secrets:Directory", secrets, "--Secrets:RefreshSeconds", "1");
            var issued = server.AccessToken;

            // The secret is rewritten with something that is not a key ring (too short a key).
            await File.WriteAllTextAsync(file, "k2:c2hvcnQ\n");
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (!server.Logs.Lines.Any(l => l.Contains("[543]", StringComparison.Ordinal)) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            Assert.Contains(server.Logs.Lines, l => l.Contains("[543]", StringComparison.Ordinal));
            using (var still = await AuthApi.InferAsync(server, issued))
            {
                Assert.Equal(HttpStatusCode.OK, still.StatusCode);
            }

            var fresh = (await server.LoginAsync("admin", GatewayServer.AdminPassword)).GetProperty("access_token").GetString();
            using var infer = await AuthApi.InferAsync(server, fresh);
            Assert.Equal(HttpStatusCode.OK, infer.StatusCode);
            using var ready = await server.NewClient().GetAsync("/health/ready");
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }
        finally
        {
            Directory.Delete(secrets, recursive: true);
        }
    }
}
