using System.Net;
using System.Text.Json;
using Gateway.Repository;
using Gateway.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.FunctionalTests;

/// <summary>Repository API, atomic reloads and unloads under concurrent load, and directory polling.</summary>
public class LifecycleTests
{
    private const string Four = "[1,2,3,4]";

    private static string Body(string type = "FP32") =>
        $$"""{"inputs":[{"name":"INPUT0","datatype":"{{type}}","shape":[1,4],"data":{{Four}}}]}""";

    private static async Task<List<(string Name, string? Version, string State, string Reason)>> IndexAsync(GatewayServer server, string body = "")
    {
        using var response = await server.PostJsonAsync("/v2/repository/index", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return json.RootElement.EnumerateArray().Select(e => (
            e.GetProperty("name").GetString()!,
            e.TryGetProperty("version", out var v) ? v.GetString() : null,
            e.GetProperty("state").GetString()!,
            e.GetProperty("reason").GetString()!)).ToList();
    }

    [Fact]
    public async Task Index_Load_Unload_Reload()
    {
        var repository = Directory.CreateTempSubdirectory("gateway-life-").FullName;
        OnnxModelWriter.Write(repository, "a", 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
        await using var server = await GatewayServer.StartAsync(repository);

        // A model added after start is listed but not loaded until asked.
        OnnxModelWriter.Write(repository, "b", 1, OnnxModelWriter.Identity("INT32", [-1, 4]));
        var index = await IndexAsync(server);
        Assert.Contains(("a", "1", "READY", ""), index);
        Assert.Contains(("b", null, "UNAVAILABLE", "not loaded"), index);
        Assert.Equal(["a"], (await IndexAsync(server, """{"ready":true}""")).Select(r => r.Name));
        using (var missing = await server.PostJsonAsync("/v2/models/b/infer", Body("INT32")))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        using (var load = await server.PostJsonAsync("/v2/repository/models/b/load", string.Empty))
        {
            Assert.Equal(HttpStatusCode.OK, load.StatusCode);
        }

        using (var served = await server.PostJsonAsync("/v2/models/b/infer", Body("INT32")))
        {
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        }

        // Unload: 503 with the reason; the index says so; loading again serves it.
        using (var unload = await server.PostJsonAsync("/v2/repository/models/b/unload", string.Empty))
        {
            Assert.Equal(HttpStatusCode.OK, unload.StatusCode);
        }

        using (var gone = await server.PostJsonAsync("/v2/models/b/infer", Body("INT32")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, gone.StatusCode);
            Assert.Contains("model 'b' is not available: unloaded", await gone.Content.ReadAsStringAsync());
        }

        Assert.Contains(("b", null, "UNAVAILABLE", "unloaded"), await IndexAsync(server));
        using (var again = await server.PostJsonAsync("/v2/repository/models/b/load", string.Empty))
        {
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        // A reload whose config is broken fails with the reason and the old model keeps serving.
        File.WriteAllText(Path.Combine(repository, "a", "config.json"), """{"max_batch_size": "eight"}""");
        using (var broken = await server.PostJsonAsync("/v2/repository/models/a/load", string.Empty))
        {
            Assert.Equal(HttpStatusCode.BadRequest, broken.StatusCode);
            Assert.Contains("config.json", await broken.Content.ReadAsStringAsync());
        }

        using (var still = await server.PostJsonAsync("/v2/models/a/infer", Body()))
        {
            Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        }

        Assert.Contains(("a", "1", "READY", ""), await IndexAsync(server));

        using (var unknown = await server.PostJsonAsync("/v2/repository/models/zzz/load", string.Empty))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        using (var traversal = await server.PostJsonAsync("/v2/repository/models/..%2Fetc/load", string.Empty))
        {
            Assert.Equal(HttpStatusCode.NotFound, traversal.StatusCode);
        }
    }

    [Fact]
    public async Task ReloadUnderConcurrentLoad_NoRequestFails_AndTheNewVersionTakesOver()
    {
        var repository = Directory.CreateTempSubdirectory("gateway-life-").FullName;
        OnnxModelWriter.Write(repository, "m", 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
        OnnxModelWriter.Write(repository, "m", 2, OnnxModelWriter.Identity("FP32", [-1, 4]));
        File.WriteAllText(Path.Combine(repository, "m", "config.json"), """{"version_policy":{"specific":{"versions":[1]}}}""");

        // Eight callers in tight loops would meet the per-user rate limit; that is not under test here.
        await using var server = await GatewayServer.StartAsync(repository, "--RateLimit:Enabled", "false");

        using var stop = new CancellationTokenSource();
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var load = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await server.PostJsonAsync("/v2/models/m/infer", Body());
                var text = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Add($"{(int)response.StatusCode} {text}");
                    continue;
                }

                using var json = JsonDocument.Parse(text);
                seen.AddOrUpdate(json.RootElement.GetProperty("model_version").GetString()!, 1, (_, n) => n + 1);
            }
        })).ToArray();

        for (var i = 0; i < 6; i++)
        {
            var version = i % 2 == 0 ? 2 : 1;
            File.WriteAllText(Path.Combine(repository, "m", "config.json"), "{\"version_policy\":{\"specific\":{\"versions\":[" + version + "]}}}");
            using var reload = await server.PostJsonAsync("/v2/repository/models/m/load", string.Empty);
            Assert.Equal(HttpStatusCode.OK, reload.StatusCode);
            using var metadata = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/m"));
            Assert.Equal(version.ToString(System.Globalization.CultureInfo.InvariantCulture), metadata.RootElement.GetProperty("versions")[0].GetString());
            await Task.Delay(100);
        }

        await stop.CancelAsync();
        await Task.WhenAll(load);
        Assert.Empty(failures);
        Assert.True(seen.ContainsKey("1") && seen.ContainsKey("2"), string.Join(",", seen));
        var repositoryService = server.Services.GetRequiredService<ModelRepository>();
        await repositoryService.DrainAsync();
    }

    [Fact]
    public async Task Unload_QueuedRequestsStillFinish_NewOnesGet503()
    {
        var repository = Directory.CreateTempSubdirectory("gateway-life-").FullName;
        OnnxModelWriter.Write(repository, "held", 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
        File.WriteAllText(Path.Combine(repository, "held", "config.json"), """
            { "max_batch_size": 16, "dynamic_batching": { "preferred_batch_size": [16], "max_queue_delay_microseconds": 2000000 } }
            """);
        await using var server = await GatewayServer.StartAsync(repository);

        // Five requests wait in the batch window; the unload is asked while they are queued.
        var queued = Enumerable.Range(0, 5).Select(_ => server.PostJsonAsync("/v2/models/held/infer", Body())).ToArray();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var stats = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/held/stats"));
            if (stats.RootElement.GetProperty("model_stats")[0].GetProperty("queue_depth").GetInt32() == 5)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(5);
        }

        var unload = server.PostJsonAsync("/v2/repository/models/held/unload", string.Empty);

        // Once the unload has taken the model out of service (it then waits for the queue to drain),
        // new requests are refused.
        deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            using var ready = await server.Client.GetAsync("/v2/models/held/ready");
            if (ready.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the model stayed ready after the unload began");
            await Task.Delay(5);
        }

        using (var after = await server.PostJsonAsync("/v2/models/held/infer", Body()))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, after.StatusCode);
        }

        // The unload waits for the queued requests, which the batch window still holds.
        Assert.False(unload.IsCompleted, "the unload returned before the queued requests finished");
        foreach (var response in await Task.WhenAll(queued))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }

        using var unloaded = await unload;
        Assert.Equal(HttpStatusCode.OK, unloaded.StatusCode);
    }

    [Fact]
    public async Task Polling_LoadsNewModels_ReloadsChanged_UnloadsRemoved()
    {
        var repository = Directory.CreateTempSubdirectory("gateway-life-").FullName;
        OnnxModelWriter.Write(repository, "a", 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
        await using var server = await GatewayServer.StartAsync(repository);
        var models = server.Services.GetRequiredService<ModelRepository>();
        var attempted = new Dictionary<string, string>();

        OnnxModelWriter.Write(repository, "b", 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
        await models.PollOnceAsync(attempted, CancellationToken.None);
        Assert.True(models.TryGetModel("b", out _));

        File.WriteAllText(Path.Combine(repository, "a", "config.json"), """{"max_batch_size": 4}""");
        await models.PollOnceAsync(attempted, CancellationToken.None);
        using (var config = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/a/config")))
        {
            Assert.Equal(4, config.RootElement.GetProperty("max_batch_size").GetInt32());
        }

        Directory.Delete(Path.Combine(repository, "b"), recursive: true);
        await models.PollOnceAsync(attempted, CancellationToken.None);
        Assert.False(models.TryGetModel("b", out _));

        // A broken change keeps the old model and is not retried until the files change again.
        File.WriteAllText(Path.Combine(repository, "a", "config.json"), """{"max_batch_size": -1}""");
        await models.PollOnceAsync(attempted, CancellationToken.None);
        Assert.True(models.TryGetModel("a", out var kept));
        Assert.Equal(4, kept.Definition.MaxBatchSize);
        var failuresLogged = server.Logs.Lines.Count(l => l.Contains("max_batch_size must not be negative"));
        await models.PollOnceAsync(attempted, CancellationToken.None);
        Assert.Equal(failuresLogged, server.Logs.Lines.Count(l => l.Contains("max_batch_size must not be negative")));
    }
}
