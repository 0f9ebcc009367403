using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// Two gateway processes sharing one PostgreSQL database and one Redis: a session ended or a key
/// revoked on one is refused by the other within a second, with no Redis call on the request path.
/// The processes are the published AOT binary when <c>GATEWAY_BINARY</c> is set (./build.sh test),
/// otherwise the gateway assembly run by <c>dotnet</c>.
/// </summary>
public sealed class ReplicaRevocationTests : IAsyncLifetime
{
    private readonly List<Process> _processes = [];
    private readonly List<string> _output = [];
    private string _repository = null!;

    private Uri A { get; set; } = null!;

    private Uri B { get; set; } = null!;

    public async Task InitializeAsync()
    {
        _repository = ReferenceModels.CreateRepository("identity");
        var database = await TestServices.CreatePostgresDatabaseAsync();
        var keys = "k1:" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        var channel = "test-revocations-" + Guid.NewGuid().ToString("N");
        var environment = new Dictionary<string, string>
        {
            ["Auth__JwtSigningKeys"] = keys,
            ["Auth__BootstrapAdminPassword"] = GatewayServer.AdminPassword,
            ["Auth__BcryptWorkFactor"] = "4",
            ["Storage__Postgres"] = TestServices.WithoutPassword(database),
            ["Storage__PostgresPassword"] = TestServices.PostgresPassword,
            ["Redis__Configuration"] = TestServices.Redis,
            ["Redis__Channel"] = channel,
            ["Redis__KeyPrefix"] = channel + ":",
        };

        // Both start together: the migration lock and the bootstrap's ON CONFLICT keep them from racing.
        var ports = new[] { FreePort.Next(), FreePort.Next() };
        foreach (var port in ports)
        {
            _processes.Add(Start(port, environment));
        }

        A = new Uri($"http://127.0.0.1:{ports[0]}");
        B = new Uri($"http://127.0.0.1:{ports[1]}");
        await Task.WhenAll(WaitReadyAsync(A), WaitReadyAsync(B));
    }

    private Process Start(int port, Dictionary<string, string> environment)
    {
        var binary = Environment.GetEnvironmentVariable("GATEWAY_BINARY");
        var info = string.IsNullOrEmpty(binary) || !File.Exists(binary)
            ? new ProcessStartInfo("dotnet") { ArgumentList = { Path.Combine(AppContext.BaseDirectory, "gateway.dll") } }
            : new ProcessStartInfo(binary);
        foreach (var arg in new[] { "--urls", $"http://127.0.0.1:{port}", "--model-repository", _repository, "--Secrets:Directory", _repository })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, e) => { lock (_output) { _output.Add(e.Data ?? string.Empty); } };
        process.ErrorDataReceived += (_, e) => { lock (_output) { _output.Add(e.Data ?? string.Empty); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitReadyAsync(Uri address)
    {
        using var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await client.GetAsync("/v2/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        string log;
        lock (_output)
        {
            log = string.Join("\n", _output);
        }

        throw new TimeoutException($"gateway at {address} not ready within 90 s:\n{log}");
    }

    public Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit();
            }

            process.Dispose();
        }

        Directory.Delete(_repository, recursive: true);
        return Task.CompletedTask;
    }

    private static HttpClient Client(Uri address, string? bearer = null)
    {
        var client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(10) };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    private static async Task<(string Access, string Refresh)> LoginAsync(Uri address, string username, string password)
    {
        using var client = Client(address);
        using var response = await client.PostAsync("/v1/auth/login", AuthApi.Json(new { username, password }));
        var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.True(response.IsSuccessStatusCode, json.ToString());
        return (json.GetProperty("access_token").GetString()!, json.GetProperty("refresh_token").GetString()!);
    }

    /// <summary>Polls until the answer is 401; returns how long that took.</summary>
    private static async Task<TimeSpan> TimeUntilRefusedAsync(Uri address, string bearer, string path = "/v2")
    {
        using var client = Client(address, bearer);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            using var response = await client.GetAsync(path);
            if (response.StatusCode == HttpStatusCode.Unauthorized)
            {
                return clock.Elapsed;
            }

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await Task.Delay(5);
        }

        return clock.Elapsed;
    }

    [Fact]
    public async Task LogoutOnOne_IsRefusedByTheOther_WithinASecond()
    {
        var (access, refresh) = await LoginAsync(A, "admin", GatewayServer.AdminPassword);
        using (var b = Client(B, access))
        {
            // B never saw this token: it validates it with the shared signing key and caches it.
            Assert.Equal(HttpStatusCode.OK, (await b.GetAsync("/v2")).StatusCode);
        }

        using (var a = Client(A, access))
        using (var logout = await a.PostAsync("/v1/auth/logout", AuthApi.Json(new { refresh_token = refresh })))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        var elapsed = await TimeUntilRefusedAsync(B, access);
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"replica B still accepted the token {elapsed.TotalMilliseconds:F0} ms after logout on A");
    }

    [Fact]
    public async Task KeyRevokedOnOne_IsRefusedByTheOther_WithinASecond()
    {
        var (admin, _) = await LoginAsync(B, "admin", GatewayServer.AdminPassword);
        string key;
        long id;
        using (var b = Client(B, admin))
        using (var created = await b.PostAsync("/v1/keys", AuthApi.Json(new { name = "shared", role = "viewer" })))
        {
            var json = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement;
            key = json.GetProperty("key").GetString()!;
            id = json.GetProperty("id").GetInt64();
        }

        using (var a = Client(A, key))
        {
            Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/v2")).StatusCode);
        }

        using (var b = Client(B, admin))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await b.DeleteAsync($"/v1/keys/{id}")).StatusCode);
        }

        var elapsed = await TimeUntilRefusedAsync(A, key);
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"replica A still accepted the key {elapsed.TotalMilliseconds:F0} ms after revocation on B");
    }

    [Fact]
    public async Task UserDisabledOnOne_IsRefusedByTheOther_WithinASecond()
    {
        var (admin, _) = await LoginAsync(A, "admin", GatewayServer.AdminPassword);
        long id;
        using (var a = Client(A, admin))
        using (var created = await a.PostAsync("/v1/users", AuthApi.Json(new { username = "replicated", password = "user-passphrase-1", role = "viewer" })))
        {
            id = System.Text.Json.JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetInt64();
        }

        var (user, _) = await LoginAsync(B, "replicated", "user-passphrase-1");
        using (var a = Client(A, user))
        {
            Assert.Equal(HttpStatusCode.OK, (await a.GetAsync("/v2")).StatusCode);
        }

        using (var a = Client(A, admin))
        {
            Assert.Equal(HttpStatusCode.OK, (await a.PatchAsync($"/v1/users/{id}", AuthApi.Json(new { disabled = true }))).StatusCode);
        }

        var elapsed = await TimeUntilRefusedAsync(B, user);
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"replica B still accepted the disabled user {elapsed.TotalMilliseconds:F0} ms later");
    }
}
