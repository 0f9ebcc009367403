using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Gateway.DeployTests.Engine;
using Xunit.Abstractions;

namespace Gateway.DeployTests;

/// <summary>
/// docker-compose.prod.yml as an operator starts it: every service it starts turns healthy
/// within 120 s, the bootstrap admin logs in through nginx's published port, an inference works,
/// Prometheus scrapes both replicas and loaded the alert rules, and users, API keys and
/// revocations survive <c>down</c> and <c>up</c> (named volumes).
/// </summary>
[Collection(ComposeStackCollection.Name)]
public sealed class ComposeStackTests(ComposeStack stack, ITestOutputHelper output)
{
    [Fact]
    public async Task Stack_IsHealthyWithin120s_AdminLogsIn_InferenceWorks_PrometheusScrapesBothReplicas()
    {
        Report.Write(output, $"compose stack: up -d to every service healthy in {stack.UpToHealthy.TotalSeconds:F1} s ({string.Join(", ", ComposeStack.Services)})");
        Assert.True(stack.UpToHealthy < TimeSpan.FromSeconds(120), $"healthy after {stack.UpToHealthy.TotalSeconds:F0} s");

        // What runs here: every default service, nothing of the observability profile.
        var running = await Docker.RunAsync("ps", "--filter", $"label=com.docker.compose.project={ComposeStack.Project}", "--format", "{{.Label \"com.docker.compose.service\"}}");
        Assert.Equal(ComposeStack.Services.Order(), running.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());

        // Secrets reached the non-root gateway (it would not start otherwise), the database and Redis.
        Assert.Equal("65532:65532", await Docker.InspectAsync(ComposeStack.Container("gateway-a"), "{{.Config.User}}"));
        Assert.Equal("true", await Docker.InspectAsync(ComposeStack.Container("gateway-a"), "{{.HostConfig.ReadonlyRootfs}}"));

        var (token, _) = await Api.RequireLoginAsync(stack.Gateway, "admin", stack.AdminPassword);
        using var client = Api.Client(stack.Gateway, token);
        await Api.RequireIdentityInferenceAsync(client);

        using var prometheus = Api.Client(stack.Prometheus);
        var clock = Stopwatch.StartNew();
        string[] up;
        while (true)
        {
            var targets = await Api.SendAsync(prometheus, HttpMethod.Get, "/api/v1/targets?state=active");
            Assert.Equal(HttpStatusCode.OK, targets.Status);
            up = [.. targets.Json.GetProperty("data").GetProperty("activeTargets").EnumerateArray()
                .Where(static t => t.GetProperty("health").GetString() == "up")
                .Select(static t => $"{t.GetProperty("labels").GetProperty("job").GetString()}/{t.GetProperty("labels").GetProperty("instance").GetString()}")];
            if (up.Contains("gateway/gateway-a:9464") && up.Contains("gateway/gateway-b:9464")
                && up.Contains("gateway-readiness/gateway-a") && up.Contains("gateway-readiness/gateway-b"))
            {
                break;
            }

            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "Prometheus targets up: " + string.Join(", ", up));
            await Task.Delay(1000);
        }

        Report.Write(output, $"Prometheus targets up after {clock.Elapsed.TotalSeconds:F1} s more: {string.Join(", ", up)}");

        // The replicas' own series, through Prometheus's query API.
        var query = await Api.SendAsync(prometheus, HttpMethod.Get, "/api/v1/query?query=" + Uri.EscapeDataString("count by (instance) (gateway_model_versions_loaded)"));
        Assert.Equal(2, query.Json.GetProperty("data").GetProperty("result").GetArrayLength());

        // The alert rules of deploy/alerts are loaded and evaluate without errors.
        var rules = await Api.SendAsync(prometheus, HttpMethod.Get, "/api/v1/rules?type=alert");
        var alerts = rules.Json.GetProperty("data").GetProperty("groups").EnumerateArray()
            .SelectMany(static g => g.GetProperty("rules").EnumerateArray())
            .ToDictionary(static r => r.GetProperty("name").GetString()!, static r => r.GetProperty("health").GetString());
        Assert.Equal(AlertTests.AlertNames().Order(), alerts.Keys.Order());
        Assert.All(alerts, static a => Assert.True(a.Value is "ok" or "unknown", $"{a.Key}: {a.Value}"));
    }

    [Fact]
    public async Task UsersKeysAndRevocations_SurviveDownAndUp()
    {
        var (admin, _) = await Api.RequireLoginAsync(stack.Gateway, "admin", stack.AdminPassword);
        var writes = await Api.CreateUserAndKeyAsync(stack.Gateway, admin, "persist");
        var (access, refresh) = await Api.RequireLoginAsync(stack.Gateway, writes.User, writes.Password);
        using (var user = Api.Client(stack.Gateway, access))
        {
            Assert.Equal(HttpStatusCode.OK, (await Api.SendAsync(user, HttpMethod.Get, "/v2/models/identity")).Status);
            var logout = await Api.SendAsync(user, HttpMethod.Post, "/v1/auth/logout", new Dictionary<string, string> { ["refresh_token"] = refresh });
            Assert.Equal(HttpStatusCode.NoContent, logout.Status);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Api.SendAsync(user, HttpMethod.Get, "/v2/models/identity")).Status);
        }

        var clock = Stopwatch.StartNew();
        await stack.ComposeAsync("down");
        await stack.ComposeAsync("up", "-d");
        await stack.WaitAllHealthyAsync(TimeSpan.FromSeconds(120));
        await stack.ResolvePortsAsync();
        Report.Write(output, $"down, then up -d to every service healthy again in {clock.Elapsed.TotalSeconds:F1} s");

        Assert.Empty(await Api.LostWritesAsync(stack.Gateway, writes));
        using (var revoked = Api.Client(stack.Gateway, access))
        {
            var answer = await Api.SendAsync(revoked, HttpMethod.Get, "/v2/models/identity");
            Assert.True(answer.Status == HttpStatusCode.Unauthorized, $"the token revoked before down answered {answer}");
        }

        using var client = Api.Client(stack.Gateway);
        var refreshed = await Api.SendAsync(client, HttpMethod.Post, "/v1/auth/refresh", new Dictionary<string, string> { ["refresh_token"] = refresh });
        Assert.Equal(HttpStatusCode.Unauthorized, refreshed.Status);
        _ = JsonDocument.Parse(refreshed.Body);
    }
}
