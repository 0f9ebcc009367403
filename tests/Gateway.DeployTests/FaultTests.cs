using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Gateway.DeployTests.Engine;
using Xunit.Abstractions;

namespace Gateway.DeployTests;

/// <summary>
/// Faults injected into the running compose stack while a constant load of identity inferences
/// (300 requests a second, a worker's access token issued before the fault) goes through nginx's
/// published port. Each test counts what the load saw (sent, answered, by status, not answered),
/// checks that a user and an API key written before the fault exist after it, asserts the
/// behaviour docs/RUNBOOK.md describes for the incident, and leaves the stack healthy. The rows go
/// to artifacts/deploy-tests/observed.md, from which RUNBOOK.md's fault tables are copied.
/// </summary>
[Collection(ComposeStackCollection.Name)]
public sealed class FaultTests(ComposeStack stack, ITestOutputHelper output)
{
    private const double Rate = 300;

    private static readonly TimeSpan s_recovery = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task GatewayProcessKilled_RestartPolicyBringsItBack_OnlyInFlightRequestsFail()
    {
        var (admin, worker, writes) = await PrepareAsync("kill");
        var replica = ComposeStack.Container("gateway-a");
        var restarts = await Docker.RestartCountAsync(replica);

        // A crash, as the OOM killer or a fatal signal does it: the process dies under the engine.
        LoadTotals crash;
        double killedAt, healthyAt;
        await using (var load = Start(worker))
        {
            await load.RunUntilAsync(5);
            var pid = await Docker.PidAsync(replica);
            killedAt = load.Elapsed;
            var (code, text) = await Shell.RunAsync("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)]);
            Assert.True(code == 0, text);
            await WaitAsync(async () => await Docker.RestartCountAsync(replica) > restarts, TimeSpan.FromSeconds(30), "the restart policy restarts gateway-a");
            var restartedAt = load.Elapsed;
            await Docker.WaitHealthyAsync(replica, s_recovery);
            healthyAt = load.Elapsed;
            await load.RunUntilAsync(healthyAt + 5);
            Assert.True(await ServesThroughNginxAsync("gateway-a", admin), "nginx sends gateway-a work again after its restart");
            crash = await load.StopAsync();
            Report.Write(output, $"gateway-a SIGKILLed at {killedAt:F1} s; restarted by the policy at {restartedAt:F1} s, healthy at {healthyAt:F1} s; load: {crash}");
        }

        var lost = await Api.LostWritesAsync(stack.Gateway, writes);
        Report.Write(output, crash.Row("gateway-a's process killed (SIGKILL: a crash, the OOM killer)", Lost(lost)));
        Assert.Empty(lost);
        AssertOnlyAround(crash, killedAt, "the crash");

        // docker kill is an operator's stop: the restart policy leaves the container down
        // (unless-stopped, as always, skips containers stopped by hand) and nginx serves from gateway-b.
        LoadTotals manual;
        double dockerKilledAt, startedAt;
        await using (var load = Start(worker))
        {
            await load.RunUntilAsync(5);
            restarts = await Docker.RestartCountAsync(replica);
            dockerKilledAt = load.Elapsed;
            await Docker.RunAsync("kill", replica);
            await load.RunUntilAsync(dockerKilledAt + 10);
            Assert.Equal("exited", await Docker.InspectAsync(replica, "{{.State.Status}}"));
            Assert.Equal(restarts, await Docker.RestartCountAsync(replica));
            startedAt = load.Elapsed;
            await stack.ComposeAsync("up", "-d", "gateway-a");
            await Docker.WaitHealthyAsync(replica, s_recovery);
            var healthy = load.Elapsed;
            await load.RunUntilAsync(healthy + 5);
            Assert.True(await ServesThroughNginxAsync("gateway-a", admin), "nginx sends gateway-a work again after up -d");
            manual = await load.StopAsync();
            Report.Write(output, $"docker kill gateway-a at {dockerKilledAt:F1} s: still exited 10 s later (restart count {restarts}); docker-compose up -d at {startedAt:F1} s, healthy at {healthy:F1} s; load: {manual}");
        }

        lost = await Api.LostWritesAsync(stack.Gateway, writes);
        Report.Write(output, manual.Row("`docker kill` of gateway-a (stays down until `up -d`)", Lost(lost)));
        Assert.Empty(lost);
        AssertOnlyAround(manual, dockerKilledAt, "docker kill");
    }

    [Fact]
    public async Task PostgresStopped_LoginsAndAdminAnswer503_IssuedTokensKeepServing_ReadinessStays200_ServiceResumes()
    {
        var (admin, worker, writes) = await PrepareAsync("pg");
        var observed = new List<string>();
        var problems = new List<string>();
        LoadTotals totals;
        double stoppedAt, startedAt, resumedAt;
        await using (var load = Start(worker))
        {
            await load.RunUntilAsync(5);
            stoppedAt = load.Elapsed;
            await stack.ComposeAsync("stop", "postgres");
            try
            {
                await load.RunUntilAsync(stoppedAt + 3);
                using var anonymous = Api.Client(stack.Gateway);
                using var asAdmin = Api.Client(stack.Gateway, admin);
                for (var round = 0; round < 3; round++)
                {
                    // What the runbook promises, recorded first and asserted after the stack is whole again.
                    var login = await Api.LoginAsync(stack.Gateway, writes.User, writes.Password);
                    Expect503(login, "POST /v1/auth/login");
                    var create = await Api.SendAsync(asAdmin, HttpMethod.Post, "/v1/users", new Dictionary<string, string> { ["username"] = $"pg-outage-{round}-{Guid.NewGuid():N}"[..28], ["password"] = "a long enough passphrase", ["role"] = "viewer" });
                    Expect503(create, "POST /v1/users");
                    Expect503(await Api.SendAsync(asAdmin, HttpMethod.Get, "/v1/keys"), "GET /v1/keys");
                    var ready = await Api.SendAsync(anonymous, HttpMethod.Get, "/health/ready");
                    observed.Add($"GET /health/ready: {(int)ready.Status}");
                    if (ready.Status != HttpStatusCode.OK)
                    {
                        problems.Add($"readiness with PostgreSQL down must stay 200 (a shared store's outage must not drain every replica): {ready}");
                    }

                    var details = await Api.SendAsync(asAdmin, HttpMethod.Get, "/health/details");
                    var degraded = StoreDegraded(details);
                    observed.Add($"GET /health/details: {(int)details.Status}, {degraded ?? "no degraded store named"}");
                    if (degraded is null)
                    {
                        problems.Add("/health/details names no degraded PostgreSQL store: " + details.Body);
                    }

                    await Task.Delay(TimeSpan.FromSeconds(4));
                }
            }
            finally
            {
                startedAt = load.Elapsed;
                await stack.ComposeAsync("start", "postgres");
            }

            await Docker.WaitHealthyAsync(ComposeStack.Container("postgres"), s_recovery);
            // Service resumes by itself: no restart of the gateways.
            await WaitAsync(async () => (await Api.LoginAsync(stack.Gateway, "admin", stack.AdminPassword)).Status == HttpStatusCode.OK, s_recovery, "logins work again after PostgreSQL returns", TimeSpan.FromSeconds(2));
            resumedAt = load.Elapsed;
            await load.RunUntilAsync(resumedAt + 5);
            totals = await load.StopAsync();
        }

        var after = await Api.CreateUserAndKeyAsync(stack.Gateway, admin, "pg-after");
        var lost = await Api.LostWritesAsync(stack.Gateway, writes);
        Report.Write(output, $"PostgreSQL stopped at {stoppedAt:F1} s, started at {startedAt:F1} s, logins again at {resumedAt:F1} s; load: {totals}");
        Report.Write(output, "  observed during the outage: " + string.Join(" | ", observed.Distinct()));
        Report.Write(output, totals.Row("PostgreSQL stopped, then started", Lost(lost)));
        Assert.Empty(lost);
        Assert.Empty(await Api.LostWritesAsync(stack.Gateway, after));
        Assert.True(problems.Count == 0, string.Join("\n", problems.Distinct()));
        // Tokens issued before the outage kept working for inference: every request answered 200.
        Assert.True(totals.Ok == totals.Sent && totals.NotSent == 0, "inference with an issued token during the PostgreSQL outage: " + totals);

        void Expect503(Api.Answer answer, string what)
        {
            observed.Add($"{what}: {(int)answer.Status}{(answer.RetryAfter is null ? string.Empty : " Retry-After " + answer.RetryAfter)} {answer.Body}");
            if (answer.Status != HttpStatusCode.ServiceUnavailable || answer.RetryAfter is null)
            {
                problems.Add($"{what} with PostgreSQL down answered {answer} (Retry-After: {answer.RetryAfter ?? "none"}); expected 503 with Retry-After");
            }
        }
    }

    [Fact]
    public async Task RedisStopped_FailsClosed_Answering503_ReadinessReportsIt_NoServerError_Recovers() =>
        await RedisOutageAsync("stop", open: false);

    [Fact]
    public async Task RedisPaused_FailsClosed_Answering503_ReadinessReportsIt_NoServerError_Recovers() =>
        await RedisOutageAsync("pause", open: false);

    [Fact]
    public async Task RedisStoppedAndPaused_WithRevocationFailureOpen_KeepsServing()
    {
        var open = new Dictionary<string, string> { ["COMPOSE_FILE"] = "docker-compose.prod.yml:tests/Gateway.DeployTests/compose/revocation-open.yml" };
        await stack.ComposeAsync(open, "up", "-d");
        await stack.WaitAllHealthyAsync(s_recovery);
        await stack.ResolvePortsAsync();
        try
        {
            await RedisOutageAsync("stop", open: true);
            await RedisOutageAsync("pause", open: true);
        }
        finally
        {
            await stack.ComposeAsync("up", "-d");
            await stack.WaitAllHealthyAsync(s_recovery);
            await stack.ResolvePortsAsync();
        }
    }

    [Fact]
    public async Task BrokenModelVersion_DroppedIntoTheRepository_OldVersionKeepsServing()
    {
        var (admin, worker, writes) = await PrepareAsync("model");
        var version = Path.Combine(stack.Models, "identity", "2");
        var answers = new List<string>();
        LoadTotals totals;
        await using (var load = Start(worker))
        {
            await load.RunUntilAsync(3);
            Directory.CreateDirectory(version);
            await File.WriteAllTextAsync(Path.Combine(version, "model.onnx"), "this is not an ONNX model");
            Docker.MakeReadable(stack.Models);
            try
            {
                // What an operator does after dropping a version in: ask each replica to load it.
                foreach (var replica in new[] { "gateway-a", "gateway-b" })
                {
                    var (status, body) = await ComposeStack.CurlAsync($"http://{replica}:8080/v2/repository/models/identity/load", admin, "POST", "{}");
                    answers.Add($"{replica}: load {status} {body}");
                    Assert.True(status is >= 400 and < 500 or 503, $"{replica}: loading a broken version answered {status}: {body}");
                    var (metadataStatus, metadata) = await ComposeStack.CurlAsync($"http://{replica}:8080/v2/models/identity", admin);
                    Assert.Equal(200, metadataStatus);
                    answers.Add($"{replica}: versions {JsonDocument.Parse(metadata).RootElement.GetProperty("versions")}");
                    var (indexStatus, index) = await ComposeStack.CurlAsync($"http://{replica}:8080/v2/repository/index", admin, "POST", "{}");
                    Assert.Equal(200, indexStatus);
                    answers.Add($"{replica}: index {index}");
                }

                await load.RunUntilAsync(load.Elapsed + 10);
            }
            finally
            {
                Directory.Delete(version, recursive: true);
                foreach (var replica in new[] { "gateway-a", "gateway-b" })
                {
                    await ComposeStack.CurlAsync($"http://{replica}:8080/v2/repository/models/identity/load", admin, "POST", "{}");
                }
            }

            totals = await load.StopAsync();
        }

        var lost = await Api.LostWritesAsync(stack.Gateway, writes);
        Report.Write(output, "broken identity/2/model.onnx: " + string.Join(" | ", answers));
        Report.Write(output, totals.Row("a broken model version (identity/2) dropped in and loaded", Lost(lost)));
        Assert.Empty(lost);
        Assert.True(totals.Ok == totals.Sent && totals.NotSent == 0, "identity while its broken version 2 was loaded: " + totals);
    }

    [Fact]
    public async Task Overload_FullQueueAnswers429WithRetryAfter_OtherModelsServe_NoServerError()
    {
        var (admin, worker, writes) = await PrepareAsync("overload");
        // identity with a queue of 8 whose batches wait 200 ms for company: at 300 requests a
        // second over two replicas the queue is full most of the time.
        var model = Path.Combine(stack.Models, "identity_queue");
        Directory.CreateDirectory(Path.Combine(model, "1"));
        File.Copy(Gateway.Testing.ReferenceModels.ModelFile("identity"), Path.Combine(model, "1", "model.onnx"));
        await File.WriteAllTextAsync(Path.Combine(model, "config.json"), """
            {
              "max_batch_size": 64,
              "dynamic_batching": { "preferred_batch_size": [64], "max_queue_delay_microseconds": 200000, "max_queue_size": 8 }
            }
            """);
        Docker.MakeReadable(stack.Models);
        LoadTotals overloaded, other;
        var refusal = string.Empty;
        try
        {
            foreach (var replica in new[] { "gateway-a", "gateway-b" })
            {
                var (status, body) = await ComposeStack.CurlAsync($"http://{replica}:8080/v2/repository/models/identity_queue/load", admin, "POST", "{}");
                Assert.True(status == 200, $"{replica}: {body}");
            }

            await using var load = LoadRun.Start(stack.Gateway, worker, "/v2/models/identity_queue/infer", Api.IdentityRequest().Body, Rate);
            await using var light = LoadRun.Start(stack.Gateway, worker, "/v2/models/identity/infer", Api.IdentityRequest().Body, 20);
            await load.RunUntilAsync(3);
            using (var client = Api.Client(stack.Gateway, worker))
            {
                for (var i = 0; i < 200 && refusal.Length == 0; i++)
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity_queue/infer") { Content = new StringContent(Api.IdentityRequest().Body, System.Text.Encoding.UTF8, "application/json") };
                    using var response = await client.SendAsync(request);
                    if (response.StatusCode == HttpStatusCode.TooManyRequests)
                    {
                        refusal = $"429 Retry-After {response.Headers.RetryAfter}: {await response.Content.ReadAsStringAsync()}";
                    }
                }
            }

            await load.RunUntilAsync(15);
            overloaded = await load.StopAsync();
            other = await light.StopAsync();
        }
        finally
        {
            Directory.Delete(model, recursive: true);
            foreach (var replica in new[] { "gateway-a", "gateway-b" })
            {
                await ComposeStack.CurlAsync($"http://{replica}:8080/v2/repository/models/identity_queue/unload", admin, "POST", "{}");
            }
        }

        var lost = await Api.LostWritesAsync(stack.Gateway, writes);
        Report.Write(output, $"overload: identity_queue (max_queue_size 8, batches held 200 ms) at 300/s: {overloaded}; a refusal: {refusal}; identity at 20/s meanwhile: {other}");
        Report.Write(output, overloaded.Row("overload: a model's queue full (identity_queue, max_queue_size 8) at 300 requests/s", Lost(lost)));
        Report.Write(output, other.Row("the same time: another model (identity) at 20 requests/s", Lost(lost)));
        Assert.Empty(lost);
        Assert.All(overloaded.Outcomes.Keys, static k => Assert.True(k is "200" or "429", $"outcome {k} under overload"));
        Assert.True(overloaded.Outcomes.GetValueOrDefault("429") > 0 && overloaded.Ok > 0, overloaded.ToString());
        Assert.StartsWith("429 Retry-After ", refusal);
        Assert.Contains("max_queue_size", refusal);
        Assert.True(other.Ok == other.Sent, "another model during the overload: " + other);
    }

    /// <summary>
    /// Redis stopped or paused for 25 s under load. Closed (the default): authenticated requests
    /// answer 503 with Retry-After, readiness reports it, Prometheus's readiness alert goes
    /// pending; open: everything keeps answering 200. Never a 500, and it recovers by itself.
    /// </summary>
    private async Task RedisOutageAsync(string how, bool open)
    {
        var (admin, worker, writes) = await PrepareAsync(open ? "redis-open" : "redis");
        var redis = ComposeStack.Container("redis");
        var readiness = new SortedDictionary<int, int>();
        var probes = new List<string>();
        var alert = "not seen";
        LoadTotals totals;
        double faultAt, restoredAt, recoveredAt;
        await using (var load = Start(worker))
        {
            await load.RunUntilAsync(5);
            faultAt = load.Elapsed;
            await Docker.RunAsync(how, redis);
            try
            {
                using var anonymous = Api.Client(stack.Gateway);
                using var asAdmin = Api.Client(stack.Gateway, admin);
                using var prometheus = Api.Client(stack.Prometheus);
                while (load.Elapsed < faultAt + 25)
                {
                    var ready = await Api.SendAsync(anonymous, HttpMethod.Get, "/health/ready");
                    readiness[(int)ready.Status] = readiness.GetValueOrDefault((int)ready.Status) + 1;
                    var metadata = await Api.SendAsync(asAdmin, HttpMethod.Get, "/v2/models/identity");
                    probes.Add($"{(int)metadata.Status}{(metadata.RetryAfter is null ? string.Empty : " Retry-After " + metadata.RetryAfter)}");
                    if (!open && alert == "not seen")
                    {
                        var alerts = await Api.SendAsync(prometheus, HttpMethod.Get, "/api/v1/alerts");
                        var state = alerts.Json.GetProperty("data").GetProperty("alerts").EnumerateArray()
                            .Where(static a => a.GetProperty("labels").GetProperty("alertname").GetString() == "GatewayReplicaNotReady")
                            .Select(static a => a.GetProperty("state").GetString()).FirstOrDefault();
                        if (state is not null)
                        {
                            alert = $"{state} at {load.Elapsed - faultAt:F0} s";
                        }
                    }

                    await Task.Delay(1000);
                }
            }
            finally
            {
                restoredAt = load.Elapsed;
                await Docker.RunAsync(how == "pause" ? "unpause" : "start", redis);
            }

            await Docker.WaitHealthyAsync(redis, s_recovery);
            using (var anonymous = Api.Client(stack.Gateway))
            using (var asWorker = Api.Client(stack.Gateway, worker))
            {
                await WaitAsync(async () => (await Api.SendAsync(anonymous, HttpMethod.Get, "/health/ready")).Status == HttpStatusCode.OK
                    && (await Api.SendAsync(asWorker, HttpMethod.Get, "/v2/models/identity")).Status == HttpStatusCode.OK, s_recovery, "readiness and requests back to 200 after Redis returns");
            }

            recoveredAt = load.Elapsed;
            await load.RunUntilAsync(recoveredAt + 5);
            totals = await load.StopAsync();
        }

        var lost = await Api.LostWritesAsync(stack.Gateway, writes);
        var mode = open ? "open" : "closed";
        var readinessText = string.Join(", ", readiness.Select(static r => $"{r.Key}: {r.Value}"));
        Report.Write(output, $"Redis {how} ({mode}) at {faultAt:F1} s for 25 s, back at {restoredAt:F1} s, serving again at {recoveredAt:F1} s; readiness during it {readinessText}; GET /v2/models/identity during it: {string.Join(", ", probes.GroupBy(static p => p).Select(static g => $"{g.Key} x{g.Count()}"))}; GatewayReplicaNotReady {alert}; load: {totals}");
        Report.Write(output, totals.Row($"Redis {(how == "pause" ? "paused (`docker pause`: every call times out)" : "stopped")}, `Auth:RevocationFailure={mode}`", Lost(lost)));
        Assert.Empty(lost);
        Assert.True(totals.ServerErrors == 0 && totals.Unanswered == 0 && totals.NotSent == 0, $"Redis {how}, {mode}: {totals}");
        // Only 200 and the documented 503 (with Retry-After, checked on the probes) come back.
        Assert.All(totals.Outcomes.Keys, static k => Assert.True(k is "200" or "503", $"outcome {k}"));
        // Recovered by itself: the last seconds of the load are all 200.
        Assert.All(totals.BySecond.Where(p => p.Key >= (long)recoveredAt + 1), static p => Assert.Equal(["200"], p.Value.Keys));
        if (open)
        {
            Assert.True(totals.Ok == totals.Sent, $"Auth:RevocationFailure=open keeps serving: {totals}");
            Assert.Equal([200], readiness.Keys);
        }
        else
        {
            Assert.True(totals.Outcomes.GetValueOrDefault("503") > 0, $"Auth:RevocationFailure=closed answers 503 while Redis is {how}: {totals}");
            Assert.Contains(503, readiness.Keys);
            Assert.Contains(probes, static p => p.StartsWith("503 Retry-After", StringComparison.Ordinal));
            Assert.StartsWith("pending", alert.Replace("firing", "pending", StringComparison.Ordinal));
        }
    }

    private async Task<(string Admin, string Worker, Api.Writes Writes)> PrepareAsync(string fault)
    {
        await stack.WaitAllHealthyAsync(s_recovery);
        var (admin, _) = await Api.RequireLoginAsync(stack.Gateway, "admin", stack.AdminPassword);
        var writes = await Api.CreateUserAndKeyAsync(stack.Gateway, admin, fault);
        var (worker, _) = await Api.RequireLoginAsync(stack.Gateway, writes.User, writes.Password);
        return (admin, worker, writes);
    }

    private LoadRun Start(string token) =>
        LoadRun.Start(stack.Gateway, token, "/v2/models/identity/infer", Api.IdentityRequest().Body, Rate);

    /// <summary>Whether nginx's traffic reaches the replica: its inference count grows while the load runs.</summary>
    private static async Task<bool> ServesThroughNginxAsync(string replica, string admin)
    {
        async Task<long> CountAsync()
        {
            var (status, body) = await ComposeStack.CurlAsync($"http://{replica}:8080/v2/models/identity/stats", admin);
            Assert.True(status == 200, body);
            return JsonDocument.Parse(body).RootElement.GetProperty("model_stats")[0].GetProperty("inference_count").GetInt64();
        }

        var before = await CountAsync();
        await Task.Delay(2000);
        return await CountAsync() > before + 50;
    }

    /// <summary>Failures only in the seconds around the fault: requests that were in flight on the replica.</summary>
    private static void AssertOnlyAround(LoadTotals totals, double at, string what)
    {
        Assert.True(totals.Unanswered == 0 && totals.NotSent == 0 && totals.ServerErrors == 0, $"{what}: {totals}");
        var late = totals.BySecond.Where(p => (p.Key < at - 1 || p.Key > at + 3) && p.Value.Keys.Any(static k => k != "200")).Select(static p => p.Key).ToList();
        Assert.True(late.Count == 0, $"{what} at {at:F1} s: failures at {string.Join(", ", late)} s, beyond the requests in flight: {totals}");
        // In flight on one replica at 300/s is a few requests, not a second's worth.
        Assert.True(totals.Sent - totals.Ok <= 50, $"{what}: {totals}");
    }

    /// <summary>The degraded or unhealthy check of /health/details that names PostgreSQL, as "name: status (description)"; null when none does.</summary>
    private static string? StoreDegraded(Api.Answer details)
    {
        if (details.Status is not (HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable))
        {
            return null;
        }

        var json = details.Json;
        if (json.GetProperty("status").GetString() == "Healthy")
        {
            return null;
        }

        foreach (var check in json.GetProperty("checks").EnumerateArray())
        {
            var status = check.GetProperty("status").GetString();
            var text = check.GetProperty("name").GetString() + ": " + status + " (" + (check.TryGetProperty("description", out var d) ? d.GetString() : string.Empty) + ")";
            if (status is "Degraded" or "Unhealthy" && text.Contains("postgres", StringComparison.OrdinalIgnoreCase))
            {
                return text;
            }
        }

        return null;
    }

    private static string Lost(List<string> lost) => lost.Count == 0 ? "none" : string.Join("; ", lost);

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, TimeSpan? every = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < timeout, $"{what}: not within {timeout.TotalSeconds:F0} s");
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(500));
        }
    }
}
