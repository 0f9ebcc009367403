using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests;

/// <summary>Overload, deadlines, disconnects and batching through real HTTP.</summary>
public sealed class SchedulingTests : IAsyncLifetime
{
    private const string Sixteen = "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]";
    private GatewayServer _server = null!;
    private string _repository = null!;

    public async Task InitializeAsync()
    {
        _repository = ReferenceModels.CreateRepository("identity", "mlp", "bert_tiny");

        // "slow": batches only when 64 requests are queued or after 30 s, so requests wait in its queue.
        Directory.CreateDirectory(Path.Combine(_repository, "slow", "1"));
        File.CreateSymbolicLink(Path.Combine(_repository, "slow", "1", "model.onnx"), ReferenceModels.ModelFile("identity"));
        File.WriteAllText(Path.Combine(_repository, "slow", "config.json"), """
            { "max_batch_size": 64,
              "dynamic_batching": { "preferred_batch_size": [64], "max_queue_delay_microseconds": 30000000,
                                    "max_queue_size": 2, "priority_levels": 3, "default_priority_level": 2 } }
            """);

        // Batched versions of mlp and bert for correctness under concurrency.
        foreach (var (name, fixture) in new[] { ("mlp_batched", "mlp"), ("bert_batched", "bert_tiny") })
        {
            Directory.CreateDirectory(Path.Combine(_repository, name, "1"));
            File.CreateSymbolicLink(Path.Combine(_repository, name, "1", "model.onnx"), ReferenceModels.ModelFile(fixture));
            File.WriteAllText(Path.Combine(_repository, name, "config.json"), """
                { "max_batch_size": 64, "instance_count": 2,
                  "dynamic_batching": { "max_queue_delay_microseconds": 2000 } }
                """);
        }

        _server = await GatewayServer.StartAsync(_repository);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    private async Task<JsonElement> StatsAsync(string model)
    {
        using var json = JsonDocument.Parse(await _server.Client.GetStringAsync($"/v2/models/{model}/stats"));
        return json.RootElement.GetProperty("model_stats")[0].Clone();
    }

    private async Task WaitForAsync(string model, Func<JsonElement, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition(await StatsAsync(model)))
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached: " + (await StatsAsync(model)).GetRawText());
            await Task.Delay(10);
        }
    }

    private static string Identity(string parameters = "") =>
        $$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{Sixteen}}}]{{parameters}}}""";

    [Fact]
    public async Task Success_CarriesServerTiming()
    {
        using var response = await _server.PostJsonAsync("/v2/models/identity/infer", Identity());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var timing = string.Join(",", response.Headers.GetValues("Server-Timing"));
        Assert.Matches(@"^queue;dur=[0-9.]+,compute;dur=[0-9.]+,total;dur=[0-9.]+$", timing);
    }

    [Fact]
    public async Task DisconnectedClient_QueuedRequestRemoved_NeverExecuted_ThenFullQueue429_ThenDeadline504()
    {
        // A client that goes away while its request waits in the queue.
        using (var cancellation = new CancellationTokenSource())
        {
            var pending = _server.Client.PostAsync("/v2/models/slow/infer", new StringContent(Identity()), cancellation.Token);
            await WaitForAsync("slow", s => s.GetProperty("queue_depth").GetInt32() == 1);
            await cancellation.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
            await WaitForAsync("slow", s => s.GetProperty("rejections").GetProperty("cancelled").GetInt64() == 1);
            var stats = await StatsAsync("slow");
            Assert.Equal(0, stats.GetProperty("queue_depth").GetInt32());
            Assert.Equal(0, stats.GetProperty("execution_count").GetInt64());
        }

        // Two requests fill the queue (max_queue_size 2); the third is refused with 429 and Retry-After.
        using var hold = new CancellationTokenSource();
        var first = _server.Client.PostAsync("/v2/models/slow/infer", new StringContent(Identity()), hold.Token);
        var second = _server.Client.PostAsync("/v2/models/slow/infer", new StringContent(Identity()), hold.Token);
        await WaitForAsync("slow", s => s.GetProperty("queue_depth").GetInt32() == 2);
        using (var refused = await _server.PostJsonAsync("/v2/models/slow/infer", Identity()))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
            Assert.True(refused.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
            Assert.Contains("max_queue_size", await refused.Content.ReadAsStringAsync());
        }

        await hold.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.WhenAll(first, second));
        await WaitForAsync("slow", s => s.GetProperty("queue_depth").GetInt32() == 0);

        // A deadline (timeout parameter, microseconds) that passes in the queue: 504, not executed.
        using (var late = await _server.PostJsonAsync("/v2/models/slow/infer", Identity(""","parameters":{"timeout":20000}""")))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, late.StatusCode);
            Assert.Contains("was not executed", await late.Content.ReadAsStringAsync());
        }

        var final = await StatsAsync("slow");
        Assert.Equal(1, final.GetProperty("rejections").GetProperty("queue_full").GetInt64());
        Assert.Equal(1, final.GetProperty("rejections").GetProperty("deadline_exceeded").GetInt64());
        Assert.Equal(3, final.GetProperty("rejections").GetProperty("cancelled").GetInt64());
        Assert.Equal(0, final.GetProperty("execution_count").GetInt64());
    }

    [Fact]
    public async Task PriorityOutOfRange_Is400()
    {
        using var response = await _server.PostJsonAsync("/v2/models/slow/infer", Identity(""","parameters":{"priority":4}"""));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("'priority' must be from 1 (highest) to 3", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Statistics_ShowEachBatchingModelsPolicy_AndTheCurveMeasuredAtLoad()
    {
        // mlp: measured at 1, 2, 4, .., 64 on the CPU at load; the window stays the configured one.
        var mlp = (await StatsAsync("mlp_batched")).GetProperty("batching");
        Assert.Equal("tuned", mlp.GetProperty("mode").GetString());
        Assert.Equal("cpu", mlp.GetProperty("device").GetString());
        Assert.Equal(2000, mlp.GetProperty("max_queue_delay_microseconds").GetInt64());
        Assert.Equal(64, mlp.GetProperty("target_batch_size").GetInt32());
        var curve = mlp.GetProperty("curve").EnumerateArray().ToArray();
        Assert.Equal([1, 2, 4, 8, 16, 32, 64], curve.Select(p => p.GetProperty("batch_size").GetInt32()));
        Assert.All(curve, p => Assert.True(p.GetProperty("ns").GetInt64() > 0, p.GetRawText()));
        Assert.InRange(mlp.GetProperty("best_batch_size").GetInt32(), 1, 64);
        Assert.Equal(JsonValueKind.Object, mlp.GetProperty("dispatched").ValueKind);

        // "slow" holds its queue: identity's fixed cost per run makes a batch of 64 far cheaper
        // per row, so the curve keeps the configured 30 s window for a short batch.
        var slow = (await StatsAsync("slow")).GetProperty("batching");
        Assert.Equal("tuned", slow.GetProperty("mode").GetString());
        Assert.True(slow.GetProperty("best_batch_size").GetInt32() > 1, slow.GetRawText());

        // An unbatched model has no batching policy to show.
        Assert.False((await StatsAsync("identity")).TryGetProperty("batching", out _));
    }

    [Fact]
    public async Task ConcurrentRequests_AreBatched_AndEachGetsItsOwnReference()
    {
        var samples = Enumerable.Range(0, 4).SelectMany(k => new[] { ReferenceModels.Load("mlp", k), ReferenceModels.Load("bert_tiny", k) }).ToArray();
        var tasks = Enumerable.Range(0, 96).Select(async i =>
        {
            var sample = samples[i % samples.Length];
            var model = sample.Model == "mlp" ? "mlp_batched" : "bert_batched";
            using var response = await _server.PostJsonAsync($"/v2/models/{model}/infer", V2Requests.Json(sample));
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, text);
            using var json = JsonDocument.Parse(text);
            var output = V2Requests.Output(json, sample.OutputName);
            Assert.Equal(sample.Output.Shape, V2Requests.Shape(output));
            Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), V2Requests.Data(output)), 0, ReferenceModels.Tolerance);
        });
        await Task.WhenAll(tasks);

        var stats = await StatsAsync("mlp_batched");
        Assert.Equal(48 * 11, stats.GetProperty("inference_count").GetInt64());
        Assert.True(stats.GetProperty("execution_count").GetInt64() < 48, "no request was merged: " + stats.GetRawText());

        // Durations as Triton reports them (tools such as perf_analyzer divide ns by count).
        var inference = stats.GetProperty("inference_stats");
        Assert.Equal(48, inference.GetProperty("success").GetProperty("count").GetInt64());
        var success = inference.GetProperty("success").GetProperty("ns").GetInt64();
        var queue = inference.GetProperty("queue").GetProperty("ns").GetInt64();
        var compute = inference.GetProperty("compute_infer").GetProperty("ns").GetInt64();
        Assert.True(compute > 0 && success >= queue + compute, "success.ns must hold each request's queue and compute: " + inference.GetRawText());
        Assert.All(stats.GetProperty("batch_stats").EnumerateArray(), b =>
            Assert.True(b.GetProperty("compute_infer").GetProperty("ns").GetInt64() > 0, "batch_stats[].compute_infer.ns: " + b.GetRawText()));
    }
}
