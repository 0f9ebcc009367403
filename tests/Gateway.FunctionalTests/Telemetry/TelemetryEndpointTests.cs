using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Gateway.Hosting;
using Gateway.Telemetry;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;

namespace Gateway.FunctionalTests.Telemetry;

/// <summary>
/// Correlation ids, health probes, the metrics listener and rejection counters through real HTTP
/// on loopback; and that without an OTLP endpoint nothing listens for spans.
/// </summary>
public sealed class TelemetryEndpointTests
{
    private const string Identity = """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}""";

    [Fact]
    public async Task CorrelationId_EchoedWhenGiven_ElseTheTraceId()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var server = await GatewayServer.StartAsync(repository);

        using (var response = await SendAsync(server, ("X-Correlation-ID", "client-7")))
        {
            Assert.Equal("client-7", response.Headers.GetValues("X-Correlation-ID").Single());
            Assert.False(response.Headers.Contains("X-Request-ID"));
        }

        using (var response = await SendAsync(server, ("X-Request-ID", "req-8")))
        {
            Assert.Equal("req-8", response.Headers.GetValues("X-Request-ID").Single());
            Assert.Equal("req-8", response.Headers.GetValues("X-Correlation-ID").Single());
        }

        const string Trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        foreach (var bad in new[] { "has space", new string('x', 129), "quote\"" })
        {
            using var response = await SendAsync(server, ("X-Correlation-ID", bad), ("traceparent", $"00-{Trace}-00f067aa0ba902b7-01"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Trace, response.Headers.GetValues("X-Correlation-ID").Single());
        }

        using (var response = await SendAsync(server))
        {
            Assert.Matches("^[0-9a-f]{32}$", response.Headers.GetValues("X-Correlation-ID").Single());
        }
    }

    [Fact]
    public async Task Health_ProbesAnswerAsKubernetesExpects_AndTheDetailIsJson()
    {
        var repository = ReferenceModels.CreateRepository("identity", "add_sub");
        await using var server = await GatewayServer.StartAsync(repository);
        foreach (var path in new[] { "/health/live", "/health/ready" })
        {
            using var response = await server.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
        }

        using var detail = JsonDocument.Parse(await server.Client.GetStringAsync("/health/details"));
        Assert.Equal("Healthy", detail.RootElement.GetProperty("status").GetString());
        var checks = detail.RootElement.GetProperty("checks").EnumerateArray().ToList();
        Assert.Equal(["models", "dependencies"], checks.Select(c => c.GetProperty("name").GetString()));
        var models = checks[0];
        // The auth work's readiness checks (identity store, revocation feed) report here too.
        Assert.Equal("ok", checks[1].GetProperty("data").GetProperty("AuthStartup").GetString());
        Assert.Equal(["ready"], models.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal("ok", models.GetProperty("data").GetProperty("identity/1").GetString());
        Assert.Equal("ok", models.GetProperty("data").GetProperty("add_sub/1").GetString());
    }

    [Fact]
    public async Task Health_ReadyFails_WhenStrictReadinessAndAModelFailed_LiveStaysUp()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        Directory.CreateDirectory(Path.Combine(repository, "broken", "1"));
        File.WriteAllText(Path.Combine(repository, "broken", "1", "model.onnx"), "not onnx");
        await using var server = await GatewayServer.StartAsync(repository, "--Gateway:StrictReadiness", "true");
        using (var live = await server.Client.GetAsync("/health/live"))
        {
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }

        using (var ready = await server.Client.GetAsync("/health/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            Assert.Equal("Unhealthy", await ready.Content.ReadAsStringAsync());
        }

        using var detail = await server.Client.GetAsync("/health/details");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, detail.StatusCode);
        using var json = JsonDocument.Parse(await detail.Content.ReadAsStringAsync());
        var models = json.RootElement.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "models");
        Assert.Equal("Unhealthy", models.GetProperty("status").GetString());
        Assert.Contains("failed to load", models.GetProperty("description").GetString());
    }

    [Fact]
    public async Task MetricsListener_ServesOnlyMetricsAndHealth_AndTheMainOneNoMetrics()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        var port = FreePort.Next();
        await using var server = await GatewayServer.StartAsync(repository, "--Telemetry:Metrics:Url", $"http://127.0.0.1:{port}");
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        management.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", server.AccessToken);

        using (var response = await server.Client.GetAsync("/metrics"))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        using (var response = await management.GetAsync("/metrics"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains("gateway_model_versions_loaded 1", await response.Content.ReadAsStringAsync());
        }

        using (var response = await management.GetAsync("/health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var response = await management.PostAsync("/v2/models/identity/infer", new StringContent(Identity)))
        {
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("on this listener", await response.Content.ReadAsStringAsync());
        }

        using (var response = await server.PostJsonAsync("/v2/models/identity/infer", Identity))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Access_ProbesOpen_MetricsAndDetailsPrivileged_RefusalsCounted()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var server = await GatewayServer.StartAsync(repository);
        using var anonymous = server.NewClient();
        foreach (var (path, status) in new[] { ("/health/live", HttpStatusCode.OK), ("/health/ready", HttpStatusCode.OK), ("/metrics", HttpStatusCode.Unauthorized), ("/health/details", HttpStatusCode.Unauthorized) })
        {
            using var response = await anonymous.GetAsync(path);
            Assert.Equal(status, response.StatusCode);
        }

        using (var forged = server.NewClient("not-a-token"))
        using (var response = await forged.PostAsync("/v2/models/identity/infer", new StringContent(Identity)))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.Matches("^[0-9a-f]{32}$", response.Headers.GetValues("X-Correlation-ID").Single());
        }

        var text = await MetricsAsync(server);
        Assert.Contains("gateway_rejected_requests_total{reason=\"unauthorised\"} 3", text);
        Assert.Contains("gateway_http_request_duration_seconds_count{method=\"POST\",route=\"/v2/models/{model}/infer\",code=\"401\"} 1", text);
    }

    [Fact]
    public async Task MetricsRole_Open_ServesWithoutCredentials()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var server = await GatewayServer.StartAsync(repository, "--Telemetry:Metrics:RequiredRole", "open");
        using var anonymous = server.NewClient();
        using var response = await anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task MetricsOff_NoEndpoint()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var server = await GatewayServer.StartAsync(repository, "--Telemetry:Metrics:Enabled", "false");
        using var response = await server.Client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task NoOtlpEndpoint_NoTracerProvider_AndNoSpanListener()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var server = await GatewayServer.StartAsync(repository);
        using var response = await server.PostJsonAsync("/v2/models/identity/infer", Identity);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Null(server.Services.GetService<TracerProvider>());
        Assert.False(GatewayTelemetry.Source.HasListeners());
    }

    [Fact]
    public void BadTelemetrySetting_FailsStartUp_NamingTheKey()
    {
        var error = Assert.Throws<OptionsValidationException>(() => GatewayHost.Build(["--urls", "http://127.0.0.1:0", "--Telemetry:Metrics:InferenceBuckets:0", "0.5", "--Telemetry:Metrics:InferenceBuckets:1", "0.1"]));
        Assert.Contains("Telemetry:Metrics:InferenceBuckets", error.Message);
    }

    [Fact]
    public async Task Rejections_CountedByReasonAndModel()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        // "slow": waits 30 s for a batch of 64 and queues at most 2 requests.
        Directory.CreateDirectory(Path.Combine(repository, "slow", "1"));
        File.Copy(ReferenceModels.ModelFile("identity"), Path.Combine(repository, "slow", "1", "model.onnx"));
        File.WriteAllText(Path.Combine(repository, "slow", "config.json"), """
            { "max_batch_size": 64, "dynamic_batching": { "preferred_batch_size": [64], "max_queue_delay_microseconds": 30000000, "max_queue_size": 2 } }
            """);
        await using var server = await GatewayServer.StartAsync(repository);

        // Two requests whose deadline passes in the queue: 504 each.
        var expiring = """{"parameters":{"timeout":100000},"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}""";
        foreach (var response in await Task.WhenAll(server.PostJsonAsync("/v2/models/slow/infer", expiring), server.PostJsonAsync("/v2/models/slow/infer", expiring)))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        }

        // Two that wait until their clients give up, and one more the full queue refuses.
        using var giveUp = new CancellationTokenSource();
        var waiting = new[] { PostAsync(server, giveUp.Token), PostAsync(server, giveUp.Token) };
        Assert.True(await PollAsync(async () => (await MetricsAsync(server)).Contains("gateway_inference_queue_depth{model=\"slow\",version=\"1\"} 2", StringComparison.Ordinal)));
        using (var refused = await server.PostJsonAsync("/v2/models/slow/infer", Identity))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        }

        await giveUp.CancelAsync();
        foreach (var request in waiting)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request);
        }

        Assert.True(await PollAsync(async () => (await MetricsAsync(server)).Contains("gateway_rejected_requests_total{reason=\"cancelled\"} 2", StringComparison.Ordinal)));
        var text = await MetricsAsync(server);
        Assert.Contains("gateway_rejected_requests_total{reason=\"deadline\"} 2", text);
        Assert.Contains("gateway_rejected_requests_total{reason=\"queue_full\"} 1", text);
        Assert.Contains("gateway_inference_requests_total{model=\"slow\",version=\"1\",outcome=\"deadline\"} 2", text);
        Assert.Contains("gateway_inference_requests_total{model=\"slow\",version=\"1\",outcome=\"queue_full\"} 1", text);
        Assert.Contains("gateway_inference_requests_total{model=\"slow\",version=\"1\",outcome=\"cancelled\"} 2", text);
        Assert.Contains("gateway_http_request_duration_seconds_count{method=\"POST\",route=\"/v2/models/{model}/infer\",code=\"504\"} 2", text);
        Assert.Contains("gateway_http_request_duration_seconds_count{method=\"POST\",route=\"/v2/models/{model}/infer\",code=\"429\"} 1", text);
        Assert.Contains("gateway_inference_queue_depth{model=\"slow\",version=\"1\"} 0", text);
    }

    private static Task<HttpResponseMessage> PostAsync(GatewayServer server, CancellationToken cancellationToken) =>
        server.Client.PostAsync("/v2/models/slow/infer", new StringContent(Identity, Encoding.UTF8, "application/json"), cancellationToken);

    [Fact]
    public async Task ClientGoneMidBody_CountedAs499_Not500()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var server = await GatewayServer.StartAsync(repository);
        for (var i = 0; i < 3; i++)
        {
            // Announces 4000 bytes, sends 20, then resets the connection: the server's body read fails.
            using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
            await socket.ConnectAsync(server.Address.Host, server.Address.Port);
            var head = $"POST /v2/models/identity/infer HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.AccessToken}\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{{\"inputs\":[{{\"name\":";
            await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(head));
            await Task.Delay(100);
            socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            socket.Close();
        }

        var counted = await PollAsync(async () => (await MetricsAsync(server)).Contains("route=\"/v2/models/{model}/infer\",code=\"499\"} 3", StringComparison.Ordinal));
        var text = await MetricsAsync(server);
        Assert.True(counted, text);
        Assert.DoesNotMatch("gateway_http_request_duration_seconds_count\\{[^}]*code=\"5[0-9][0-9]\"", text);
    }

    private static Task<string> MetricsAsync(GatewayServer server) => server.Client.GetStringAsync("/metrics");

    private static async Task<bool> PollAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(25);
        }

        return false;
    }

    private static async Task<HttpResponseMessage> SendAsync(GatewayServer server, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity/infer") { Content = new StringContent(Identity, Encoding.UTF8, "application/json") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await server.Client.SendAsync(request);
    }
}
