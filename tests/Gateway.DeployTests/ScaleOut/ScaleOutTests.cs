using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Testing;
using Xunit.Abstractions;

namespace Gateway.DeployTests.ScaleOut;

/// <summary>
/// Scaling out: two replicas of the published Native-AOT binary sharing one PostgreSQL database,
/// one Redis and one JWT signing key, behind Debian's nginx running <c>deploy/nginx/gateway.conf</c>
/// on loopback. Load through nginx reaches both; a logout on one replica is refused by the other
/// within a second; a replica stopped with SIGTERM under load costs no request (its in-flight
/// requests finish, and nginx retries what it never read on the other replica).
/// PostgreSQL and Redis are the ones <c>./build.sh test</c> starts (GATEWAY_TEST_POSTGRES, GATEWAY_TEST_REDIS).
/// </summary>
public sealed class ScaleOutTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string AdminPassword = "scale-out-admin-passphrase";

    /// <summary>A copy of identity whose batches wait a second for company: requests held in flight on purpose.</summary>
    private const string HeldModel = "identity_held";

    private static readonly TimeSpan s_heldDelay = TimeSpan.FromSeconds(1);

    private readonly List<GatewayReplica> _replicas = [];
    private readonly List<string> _directories = [];
    private NginxProcess _nginx = null!;
    private string _identityBody = null!;

    private GatewayReplica A => _replicas[0];

    private GatewayReplica B => _replicas[1];

    public async Task InitializeAsync()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        _directories.Add(repository);
        var held = Path.Combine(repository, HeldModel);
        Directory.CreateDirectory(Path.Combine(held, "1"));
        File.CreateSymbolicLink(Path.Combine(held, "1", "model.onnx"), ReferenceModels.ModelFile("identity"));
        File.WriteAllText(Path.Combine(held, "config.json"), $$"""
            {
              "max_batch_size": 64,
              "dynamic_batching": { "preferred_batch_size": [64], "max_queue_delay_microseconds": {{(long)s_heldDelay.TotalMicroseconds}} }
            }
            """);
        var secrets = Directory.CreateTempSubdirectory("gateway-scale-secrets-").FullName;
        _directories.Add(secrets);
        _identityBody = V2Requests.Json(ReferenceModels.Load("identity", 0));

        var channel = "scale-" + Guid.NewGuid().ToString("N");
        var environment = new Dictionary<string, string>
        {
            // The one thing every replica must share besides the stores: tokens signed by one verify on all.
            ["Auth__JwtSigningKeys"] = "k1:" + Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32)),
            ["Auth__BootstrapAdminPassword"] = AdminPassword,
            ["Auth__BcryptWorkFactor"] = "4",
            ["Storage__Postgres"] = await TestServices.CreatePostgresDatabaseAsync(),
            ["Redis__Configuration"] = TestServices.Redis,
            ["Redis__Channel"] = channel,
            ["Redis__KeyPrefix"] = channel + ":",
            // Rate limits stay on (a Redis bucket shared by the replicas) but above what the load sends.
            ["RateLimit__Admin__PerSecond"] = "100000",
            ["RateLimit__Admin__Burst"] = "100000",
            // Behind nginx: the client's address is the last X-Forwarded-For entry (nginx's view of its peer).
            ["ASPNETCORE_FORWARDEDHEADERS_ENABLED"] = "true",
        };
        int[] ports = [FreePort.Next(), FreePort.Next()];
        _replicas.Add(GatewayReplica.Start("A", ports[0], repository, secrets, environment));
        _replicas.Add(GatewayReplica.Start("B", ports[1], repository, secrets, environment));
        await Task.WhenAll(A.WaitReadyAsync(), B.WaitReadyAsync());
        _nginx = await NginxProcess.StartAsync(ports);
    }

    public async Task DisposeAsync()
    {
        if (_nginx is not null)
        {
            output.WriteLine("nginx error log:\n" + _nginx.ErrorLog);
            await _nginx.DisposeAsync();
        }

        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }

        foreach (var directory in _directories)
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task LoadThroughNginx_ReachesBothReplicas()
    {
        var (token, _) = await LoginAsync(_nginx.Address, "admin", AdminPassword);
        var before = await Task.WhenAll(A.StatsAsync(token), B.StatsAsync(token));

        const int Requests = 400;
        using var client = NginxClient(token, connections: 8);
        var statuses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            var seen = new List<HttpStatusCode>();
            for (var i = 0; i < Requests / 8; i++)
            {
                using var response = await client.PostAsync("/v2/models/identity/infer", Json(_identityBody));
                seen.Add(response.StatusCode);
            }

            return seen;
        })));
        Assert.All(statuses.SelectMany(static s => s), static status => Assert.Equal(HttpStatusCode.OK, status));

        // Each replica's own counters, read from it directly.
        var after = await Task.WhenAll(A.StatsAsync(token), B.StatsAsync(token));
        var onA = after[0]["identity"].Inferences - before[0]["identity"].Inferences;
        var onB = after[1]["identity"].Inferences - before[1]["identity"].Inferences;
        output.WriteLine($"{Requests} requests through nginx: {onA} on A, {onB} on B");
        Assert.Equal(Requests, onA + onB);
        // Round robin gives each about half; a quarter each leaves room for timing without hiding a replica left out.
        Assert.InRange(onA, Requests / 4, Requests * 3 / 4);
        Assert.InRange(onB, Requests / 4, Requests * 3 / 4);
        var upstreams = _nginx.AccessLog.Where(static l => l.Contains("/infer", StringComparison.Ordinal)).Select(static l => l.Split(' ')[3]).Distinct().Count();
        Assert.Equal(2, upstreams);
    }

    [Fact]
    public async Task LogoutOnOneReplica_IsRefusedByTheOther_WithinASecond()
    {
        var (access, refresh) = await LoginAsync(A.Address, "admin", AdminPassword);
        using (var b = B.Client(access))
        {
            // B never issued this token: the shared signing key verifies it there.
            Assert.Equal(HttpStatusCode.OK, (await b.GetAsync("/v2/models/identity")).StatusCode);
        }

        using (var a = A.Client(access))
        using (var logout = await a.PostAsync("/v1/auth/logout", Json(JsonSerializer.Serialize(new Dictionary<string, string> { ["refresh_token"] = refresh }))))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        var clock = Stopwatch.StartNew();
        using (var b = B.Client(access))
        {
            while (true)
            {
                using var response = await b.GetAsync("/v2/models/identity");
                if (response.StatusCode == HttpStatusCode.Unauthorized)
                {
                    break;
                }

                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"replica B still accepted the token {clock.Elapsed.TotalMilliseconds:F0} ms after the logout on A");
                await Task.Delay(5);
            }
        }

        output.WriteLine($"refused by B {clock.Elapsed.TotalMilliseconds:F1} ms after the logout on A");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1));

        // And through nginx, whichever replica answers.
        using var viaNginx = NginxClient(access, connections: 2);
        for (var i = 0; i < 4; i++)
        {
            using var response = await viaNginx.GetAsync("/v2/models/identity");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        // The refresh token ended with the session, on both replicas.
        using var client = new HttpClient { BaseAddress = B.Address };
        using var refreshed = await client.PostAsync("/v1/auth/refresh", Json(JsonSerializer.Serialize(new Dictionary<string, string> { ["refresh_token"] = refresh })));
        Assert.Equal(HttpStatusCode.Unauthorized, refreshed.StatusCode);
    }

    [Fact]
    public async Task ReplicaStoppedUnderLoad_NoRequestFails()
    {
        var (token, _) = await LoginAsync(_nginx.Address, "admin", AdminPassword);
        using var client = NginxClient(token, connections: 8);
        var stopwatch = Stopwatch.StartNew();
        long signalled = long.MaxValue, exited = long.MaxValue;
        using var stop = new CancellationTokenSource();

        // Eight callers through nginx, back to back: three inferences (POST) to one metadata read (GET).
        var callers = Enumerable.Range(0, 8).Select(caller => Task.Run(async () =>
        {
            var outcomes = new List<Outcome>();
            for (var i = caller; !stop.IsCancellationRequested; i++)
            {
                var infer = i % 4 != 0;
                var sent = stopwatch.Elapsed.Ticks;
                string result;
                try
                {
                    using var response = infer
                        ? await client.PostAsync("/v2/models/identity/infer", Json(_identityBody))
                        : await client.GetAsync("/v2/models/identity");
                    var body = await response.Content.ReadAsStringAsync();
                    result = response.StatusCode == HttpStatusCode.OK ? "200" : $"{(int)response.StatusCode} {body}";
                    if (infer && response.StatusCode == HttpStatusCode.OK && !body.Contains("\"OUTPUT0\"", StringComparison.Ordinal))
                    {
                        result = "200 without OUTPUT0: " + body;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    result = ex.GetType().Name + ": " + ex.Message;
                }

                outcomes.Add(new Outcome(infer ? "POST infer" : "GET metadata", sent, stopwatch.Elapsed.Ticks, result));
            }

            return outcomes;
        })).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(1));
        var beforeStop = await B.StatsAsync(token);
        Assert.True(beforeStop["identity"].Inferences > 0, "B received no load through nginx before the stop");

        // Requests held in flight on B (queued for the batch delay), sent to it directly.
        using var direct = B.Client(token);
        var held = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            using var response = await direct.PostAsync($"/v2/models/{HeldModel}/infer", Json(_identityBody));
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync(), Done: stopwatch.Elapsed.Ticks);
        })).ToArray();
        var queued = Stopwatch.StartNew();
        while ((await B.StatsAsync(token))[HeldModel].QueueDepth < held.Length)
        {
            Assert.True(queued.Elapsed < TimeSpan.FromSeconds(10), "the held requests did not reach B's queue");
            await Task.Delay(10);
        }

        signalled = stopwatch.Elapsed.Ticks;
        B.Terminate();
        var exitCode = await B.WaitExitAsync(TimeSpan.FromSeconds(30));
        exited = stopwatch.Elapsed.Ticks;
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await stop.CancelAsync();
        var outcomes = (await Task.WhenAll(callers)).SelectMany(static o => o).OrderBy(static o => o.Sent).ToList();
        var heldOutcomes = await Task.WhenAll(held);

        var during = outcomes.Count(o => o.Done >= signalled && o.Sent <= exited);
        var after = outcomes.Count(o => o.Sent > exited);
        var failures = outcomes.Where(static o => o.Result != "200").ToList();
        var retried = _nginx.AccessLog.Count(static l => l.Contains(", ", StringComparison.Ordinal));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
            requests through nginx: {outcomes.Count} ({outcomes.Count(static o => o.Kind == "POST infer")} POST infer, {outcomes.Count(static o => o.Kind == "GET metadata")} GET), failed {failures.Count}
            SIGTERM to B at {TimeSpan.FromTicks(signalled).TotalSeconds:F3} s, B exited {TimeSpan.FromTicks(exited - signalled).TotalMilliseconds:F0} ms later with code {exitCode}
            requests overlapping the stop (sent before B exited, answered after SIGTERM): {during}; sent after B exited: {after}; retried by nginx on the other replica: {retried}
            held on B at SIGTERM: {heldOutcomes.Length}, answered {string.Join(", ", heldOutcomes.Select(o => $"{(int)o.StatusCode} after {TimeSpan.FromTicks(o.Done - signalled).TotalMilliseconds:F0} ms"))}
            """));
        foreach (var line in _nginx.AccessLog.Where(static l => l.Contains(", ", StringComparison.Ordinal)))
        {
            output.WriteLine("  retried: " + line);
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {outcomes.Count} requests failed:\n{string.Join('\n', failures.Take(20))}\nnginx:\n{_nginx.ErrorLog}");
        Assert.Equal(0, exitCode);
        Assert.True(during > 0, "no request was in flight while B stopped");
        Assert.True(after > 0, "no request was sent after B exited");
        foreach (var (status, body, done) in heldOutcomes)
        {
            Assert.True(status == HttpStatusCode.OK, $"a request in flight on B at SIGTERM got {(int)status}: {body}\n{B.Output}");
            Assert.Contains("\"OUTPUT0\"", body, StringComparison.Ordinal);
            // They were answered after the signal: B finished them while it was shutting down.
            Assert.True(done > signalled);
        }

        // After B is gone, everything is served by A.
        var onA = (await A.StatsAsync(token))["identity"].Inferences;
        Assert.True(onA > 0);
        using var probe = await client.PostAsync("/v2/models/identity/infer", Json(_identityBody));
        Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
    }

    [Fact]
    public async Task LoginsThroughNginx_AreThrottledPerClientAddress_NotPerProxy()
    {
        // RateLimit:LoginPerAddress (30 at once, then one a second) must see each client, not nginx,
        // or one noisy client locks everybody out. Clients on 127.0.0.2 and 127.0.0.3 are two
        // addresses to nginx; the replicas read them from X-Forwarded-For.
        using var noisy = NginxClientFrom("127.0.0.2");
        var refusedAfter = 0;
        for (var i = 1; i <= 60 && refusedAfter == 0; i++)
        {
            // A different unknown account each time: only the per-address bucket runs out.
            var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["username"] = $"nobody-{i}", ["password"] = "wrong-password" });
            using var response = await noisy.PostAsync("/v1/auth/login", Json(body));
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                refusedAfter = i - 1;
            }
            else
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }
        }

        output.WriteLine($"127.0.0.2 was refused after {refusedAfter} failed logins");
        Assert.InRange(refusedAfter, 30, 40);

        // Another client is not affected.
        using var other = NginxClientFrom("127.0.0.3");
        var credentials = JsonSerializer.Serialize(new Dictionary<string, string> { ["username"] = "admin", ["password"] = AdminPassword });
        using var login = await other.PostAsync("/v1/auth/login", Json(credentials));
        Assert.Equal(HttpStatusCode.OK, login.StatusCode);
    }

    /// <summary>A client whose connections to nginx come from <paramref name="local"/> (any 127.x address is loopback).</summary>
    private HttpClient NginxClientFrom(string local) => new(new SocketsHttpHandler
    {
        UseProxy = false,
        ConnectCallback = async (context, cancellation) =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(local), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellation);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    })
    {
        BaseAddress = _nginx.Address,
        Timeout = TimeSpan.FromSeconds(30),
    };

    private sealed record Outcome(string Kind, long Sent, long Done, string Result)
    {
        public override string ToString() =>
            string.Create(CultureInfo.InvariantCulture, $"{Kind} sent at {TimeSpan.FromTicks(Sent).TotalSeconds:F3} s: {Result}");
    }

    private HttpClient NginxClient(string bearer, int connections)
    {
        var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = connections, UseProxy = false })
        {
            BaseAddress = _nginx.Address,
            Timeout = TimeSpan.FromSeconds(30),
        };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task<(string Access, string Refresh)> LoginAsync(Uri address, string username, string password)
    {
        using var client = new HttpClient { BaseAddress = address };
        using var response = await client.PostAsync("/v1/auth/login", Json(JsonSerializer.Serialize(new Dictionary<string, string> { ["username"] = username, ["password"] = password })));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"login at {address}: {(int)response.StatusCode} {text}");
        using var json = JsonDocument.Parse(text);
        return (json.RootElement.GetProperty("access_token").GetString()!, json.RootElement.GetProperty("refresh_token").GetString()!);
    }
}
