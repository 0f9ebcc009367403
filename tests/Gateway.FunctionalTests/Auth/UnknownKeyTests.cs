using System.Net;
using System.Security.Cryptography;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// API keys that do not exist (issue 11) must not reach the database on every attempt: a key
/// already refused is answered from memory, and lookups of keys not seen before are limited per
/// client address before authentication.
/// </summary>
public sealed class UnknownKeyTests : IDisposable
{
    private readonly string _repository = ReferenceModels.CreateRepository("identity");

    public void Dispose() => Directory.Delete(_repository, recursive: true);

    private static string RandomKey() =>
        $"gk_{RandomNumberGenerator.GetInt32(1, int.MaxValue)}_{System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32))}";

    [Fact]
    public async Task RandomKeyFlood_IsRefusedBeforeTheStore_PerAddress()
    {
        await using var server = await GatewayServer.StartAsync(_repository);
        var (_, key) = await AuthApi.KeyAsync(server, "legitimate", "worker");
        using var flooder = AuthApi.ClientFrom(server, "127.0.0.2");
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 200 && limited is null; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/v2") { Headers = { { "X-API-Key", RandomKey() } } };
            var response = await flooder.SendAsync(request);
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                limited = response;
            }
            else
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
                response.Dispose();
            }
        }

        Assert.True(limited is not null, $"200 random keys from one address, none refused before the store: {string.Join(",", statuses.Distinct())}");
        using (limited)
        {
            Assert.Contains("API key", await AuthApi.ErrorAsync(limited, HttpStatusCode.TooManyRequests));
            Assert.True(limited.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 });
        }

        // Another address is not affected; a key this address already used still works from memory.
        using var other = AuthApi.ClientFrom(server, "127.0.0.3", key);
        using (var ok = await other.GetAsync("/v2"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var cached = AuthApi.ClientFrom(server, "127.0.0.2", key);
        using var stillOk = await cached.GetAsync("/v2");
        Assert.Equal(HttpStatusCode.OK, stillOk.StatusCode);
    }

    [Fact]
    public async Task RefusedKeys_AreAnsweredFromMemory_WithoutTheStore()
    {
        using var postgres = new PostgresProcess();
        await using var server = await GatewayServer.StartAsync(_repository, "--Storage:Postgres", postgres.ConnectionString);
        var (id, key) = await AuthApi.KeyAsync(server, "real", "worker");
        var wrongSecret = $"gk_{id}_{System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32))}";
        var unknownId = RandomKey();
        foreach (var bad in new[] { wrongSecret, unknownId })
        {
            using var refused = await AuthApi.GetAsync(server, "/v2", bad);
            await AuthApi.ErrorAsync(refused, HttpStatusCode.Unauthorized);
        }

        using (var ok = await AuthApi.GetAsync(server, "/v2", key))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        // With the database gone, anything answered from memory is still answered; a lookup is not.
        postgres.Stop();
        foreach (var bad in new[] { wrongSecret, unknownId })
        {
            using var again = await AuthApi.GetAsync(server, "/v2", bad);
            Assert.Equal("the API key is invalid", await AuthApi.ErrorAsync(again, HttpStatusCode.Unauthorized));
        }

        // Another wrong secret for the same key id: its record is in memory too.
        using (var anotherGuess = await AuthApi.GetAsync(server, "/v2", $"gk_{id}_{System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32))}"))
        {
            await AuthApi.ErrorAsync(anotherGuess, HttpStatusCode.Unauthorized);
        }

        using (var ok = await AuthApi.GetAsync(server, "/v2", key))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var neverSeen = await AuthApi.GetAsync(server, "/v2", RandomKey());
        await AuthApi.ErrorAsync(neverSeen, HttpStatusCode.ServiceUnavailable);
    }
}
