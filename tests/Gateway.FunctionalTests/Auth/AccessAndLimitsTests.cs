using System.Net;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Auth;

/// <summary>Per-model access lists, rate limits, Auth:Mode=none and the first start without a bootstrap password.</summary>
public sealed class AccessAndLimitsTests : IDisposable
{
    private readonly string _repository = ReferenceModels.CreateRepository("identity");

    public void Dispose() => Directory.Delete(_repository, recursive: true);

    private void RestrictIdentity(string access) =>
        File.WriteAllText(Path.Combine(_repository, "identity", "config.json"), $$"""{ "backend": "onnx", "access": {{access}} }""");

    [Fact]
    public async Task ModelAccessList_AdmitsOnlyListedRolesAndUsers()
    {
        RestrictIdentity("""{ "roles": ["supervisor"], "users": ["alice"] }""");
        await using var server = await GatewayServer.StartAsync(_repository);
        var (_, alice, _) = await AuthApi.UserAsync(server, "alice", "worker");
        var (_, bob, _) = await AuthApi.UserAsync(server, "bob", "worker");
        var (_, carol, _) = await AuthApi.UserAsync(server, "carol", "supervisor");
        var (_, workerKey) = await AuthApi.KeyAsync(server, "worker key", "worker");

        using (var response = await AuthApi.InferAsync(server, alice))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var response = await AuthApi.InferAsync(server, carol))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        foreach (var refused in new[] { bob, workerKey, server.AccessToken })
        {
            using var response = await AuthApi.InferAsync(server, refused);
            Assert.Contains("access list", await AuthApi.ErrorAsync(response, HttpStatusCode.Forbidden));
        }

        // Metadata stays readable; only inference is restricted.
        using var metadata = await AuthApi.GetAsync(server, "/v2/models/identity", bob);
        Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
    }

    [Fact]
    public async Task ModelAccessList_WithAnUnknownRole_FailsTheModelWithAClearReason()
    {
        RestrictIdentity("""{ "roles": ["root"] }""");
        await using var server = await GatewayServer.StartAsync(_repository, "--Gateway:StrictReadiness", "true");
        using var response = await server.Client.GetAsync("/v2/models/identity");
        var error = await AuthApi.ErrorAsync(response, HttpStatusCode.ServiceUnavailable);
        Assert.Contains("access.roles: 'root' is not a role", error);
        Assert.Contains(server.Logs.Lines, line => line.Contains("access.roles: 'root' is not a role", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RateLimit_PerUser_Is429WithHeaders()
    {
        await using var server = await GatewayServer.StartAsync(_repository, "--RateLimit:Worker:PerSecond", "0.01", "--RateLimit:Worker:Burst", "3");
        var (_, worker, _) = await AuthApi.UserAsync(server, "limited", "worker");
        for (var i = 0; i < 3; i++)
        {
            using var ok = await AuthApi.InferAsync(server, worker);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("3", ok.Headers.GetValues("RateLimit-Limit").Single());
            Assert.Equal((2 - i).ToString(System.Globalization.CultureInfo.InvariantCulture), ok.Headers.GetValues("RateLimit-Remaining").Single());
        }

        using var limited = await AuthApi.InferAsync(server, worker);
        Assert.Contains("rate limit", await AuthApi.ErrorAsync(limited, HttpStatusCode.TooManyRequests));
        Assert.True(limited.Headers.RetryAfter!.Delta!.Value.TotalSeconds >= 1);
        Assert.Equal("0", limited.Headers.GetValues("RateLimit-Remaining").Single());
        Assert.True(int.Parse(limited.Headers.GetValues("RateLimit-Reset").Single(), System.Globalization.CultureInfo.InvariantCulture) > 0);

        // Another user has its own bucket.
        var (_, other, _) = await AuthApi.UserAsync(server, "unlimited", "worker");
        using var fine = await AuthApi.InferAsync(server, other);
        Assert.Equal(HttpStatusCode.OK, fine.StatusCode);
    }

    [Fact]
    public async Task RateLimit_PerKeyOverride_KeptInRedis()
    {
        var prefix = "limits-" + Guid.NewGuid().ToString("N") + ":";
        string[] args = ["--Redis:Configuration", TestServices.Redis, "--Redis:KeyPrefix", prefix, "--Redis:Channel", prefix + "revocations"];
        await using var server = await GatewayServer.StartAsync(_repository, args);
        var (id, key) = await AuthApi.KeyAsync(server, "slow key", "worker", new { per_second = 0.01, burst = 2 });
        for (var i = 0; i < 2; i++)
        {
            using var ok = await AuthApi.InferAsync(server, key);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using var limited = await AuthApi.InferAsync(server, key);
        await AuthApi.ErrorAsync(limited, HttpStatusCode.TooManyRequests);

        // The bucket lives in Redis (shared by every replica), spent.
        await using var redis = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(TestServices.Redis);
        var tokens = await redis.GetDatabase().HashGetAsync(prefix + "rl:k:" + id, "tokens");
        Assert.True(tokens.HasValue);
        Assert.True(double.Parse(tokens.ToString(), System.Globalization.CultureInfo.InvariantCulture) < 1);
    }

    [Fact]
    public async Task LoginFailures_AreLimitedPerAccount()
    {
        await using var server = await GatewayServer.StartAsync(_repository, "--RateLimit:LoginPerAccount:Failures", "3", "--RateLimit:LoginPerAccount:BackoffSeconds", "60");
        using var client = server.NewClient();
        for (var i = 0; i < 3; i++)
        {
            using var failed = await client.PostAsync("/v1/auth/login", AuthApi.Json(new { username = "victim", password = "guess-" + i }));
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }

        using var throttled = await client.PostAsync("/v1/auth/login", AuthApi.Json(new { username = "victim", password = "guess-4" }));
        Assert.Contains("too many failed attempts", await AuthApi.ErrorAsync(throttled, HttpStatusCode.TooManyRequests));
        Assert.Equal(TimeSpan.FromSeconds(60), throttled.Headers.RetryAfter?.Delta);

        // Another account from the same address is not affected (the per-address limit is higher).
        using var other = await client.PostAsync("/v1/auth/login", AuthApi.Json(new { username = "admin", password = GatewayServer.AdminPassword }));
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task RetiredLoginBucketSetting_FailsTheStart_NamingTheNewOnes()
    {
        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(
            () => GatewayServer.StartAsync(_repository, "--RateLimit:LoginPerAccount:Burst", "10"));
        Assert.Contains("RateLimit:LoginPerAccount:Burst no longer exists", error.Message);
        Assert.Contains("RateLimit:LoginPerAccount:Failures", error.Message);
    }

    [Fact]
    public async Task UnknownUserLogin_TakesAsLongAsAKnownOne()
    {
        // Both paths run one bcrypt verification; without the dummy hash an unknown user would answer ~100x faster.
        await using var server = await GatewayServer.StartAsync(_repository, "--Auth:BcryptWorkFactor", "10",
            "--RateLimit:LoginPerAccount:Failures", "100", "--RateLimit:LoginPerAddress:Failures", "100");
        using var client = server.NewClient();
        async Task<double> TimeAsync(string username)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var response = await client.PostAsync("/v1/auth/login", AuthApi.Json(new { username, password = "wrong-password" }));
            var elapsed = clock.Elapsed.TotalMilliseconds;
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            return elapsed;
        }

        // Interleaved, so a busy machine slows both kinds alike; medians of nine each.
        var knownTimes = new List<double>();
        var unknownTimes = new List<double>();
        for (var i = 0; i < 9; i++)
        {
            knownTimes.Add(await TimeAsync("admin"));
            unknownTimes.Add(await TimeAsync("no-such-user"));
        }

        knownTimes.Sort();
        unknownTimes.Sort();
        var known = knownTimes[4];
        var unknown = unknownTimes[4];
        Assert.True(unknown > known * 0.5, $"unknown user {unknown:F1} ms vs known {known:F1} ms");
    }

    [Fact]
    public async Task ModeNone_ServesWithoutCredentials_AndSaysSoLoudly()
    {
        await using var server = await GatewayServer.StartAsync(_repository, "--Auth:Mode", "none");
        using var response = await AuthApi.InferAsync(server, null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains(server.Logs.Lines, line => line.StartsWith("Critical", StringComparison.Ordinal) && line.Contains("AUTHENTICATION IS OFF", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FirstStart_WithoutBootstrapPassword_SaysHowToSetOne()
    {
        await using var server = await GatewayServer.StartAsync(_repository, "--Auth:BootstrapAdminPassword", "");
        Assert.Contains(server.Logs.Lines, line => line.Contains("Auth__BootstrapAdminPassword", StringComparison.Ordinal));
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.LoginAsync("admin", GatewayServer.AdminPassword));
        using var response = await AuthApi.InferAsync(server, null);
        await AuthApi.ErrorAsync(response, HttpStatusCode.Unauthorized);
    }
}
