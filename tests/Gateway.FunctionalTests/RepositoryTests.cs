using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests;

/// <summary>Model repository layout, versions and policies, and how failures are reported.</summary>
public class RepositoryTests
{
    private static string NewRepository() => Directory.CreateTempSubdirectory("gateway-repo-").FullName;

    private static void WriteConfig(string repository, string model, string json) =>
        File.WriteAllText(Path.Combine(repository, model, "config.json"), json);

    private static async Task<string> DatatypeOf(GatewayServer server, string path)
    {
        using var json = JsonDocument.Parse(await server.Client.GetStringAsync(path));
        return json.RootElement.GetProperty("inputs")[0].GetProperty("datatype").GetString()!;
    }

    [Fact]
    public async Task Versions_HighestServedByDefault_ExplicitSelectsAnother()
    {
        var repository = NewRepository();
        OnnxModelWriter.Write(repository, "multi", 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
        OnnxModelWriter.Write(repository, "multi", 2, OnnxModelWriter.Identity("INT32", [-1, 4]));
        OnnxModelWriter.Write(repository, "multi", 10, OnnxModelWriter.Identity("FP64", [-1, 4]));
        Directory.CreateDirectory(Path.Combine(repository, "multi", "notes"));
        await using var server = await GatewayServer.StartAsync(repository);

        Assert.Equal("FP64", await DatatypeOf(server, "/v2/models/multi"));
        Assert.Equal("INT32", await DatatypeOf(server, "/v2/models/multi/versions/2"));
        Assert.Equal("FP32", await DatatypeOf(server, "/v2/models/multi/versions/1"));
        using var metadata = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/multi"));
        Assert.Equal(["10", "2", "1"], metadata.RootElement.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));

        using var response = await server.PostJsonAsync("/v2/models/multi/versions/2/infer", """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,4],"data":[1,2,3,4]}]}""");
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("2", json.RootElement.GetProperty("model_version").GetString());
        using var latest = await server.PostJsonAsync("/v2/models/multi/infer", """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,4],"data":[1,2,3,4]}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, latest.StatusCode);
        Assert.Contains("datatype INT32 does not match the model's FP64", await latest.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("""{"version_policy":{"latest":{"num_versions":2}}}""", new[] { "3", "2" })]
    [InlineData("""{"version_policy":{"specific":{"versions":[1,3]}}}""", new[] { "3", "1" })]
    [InlineData("""{"version_policy":{"all":{}}}""", new[] { "3", "2", "1" })]
    public async Task VersionPolicy_SelectsVersions(string config, string[] expected)
    {
        var repository = NewRepository();
        for (var v = 1; v <= 3; v++)
        {
            OnnxModelWriter.Write(repository, "m", v, OnnxModelWriter.Identity("FP32", [-1, 4]));
        }

        WriteConfig(repository, "m", config);
        await using var server = await GatewayServer.StartAsync(repository);
        using var metadata = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/m"));
        Assert.Equal(expected, metadata.RootElement.GetProperty("versions").EnumerateArray().Select(v => v.GetString()));
        foreach (var version in new[] { "1", "2", "3" })
        {
            using var ready = await server.Client.GetAsync($"/v2/models/m/versions/{version}/ready");
            Assert.Equal(expected.Contains(version) ? HttpStatusCode.OK : HttpStatusCode.NotFound, ready.StatusCode);
        }
    }

    public static TheoryData<string, string, string> BadModels() => new()
    {
        { "contradicts", """{"input":[{"name":"INPUT0","data_type":"TYPE_INT32"}]}""", "input 'INPUT0': data_type TYPE_INT32 contradicts the model's FP32" },
        { "wrongdims", """{"max_batch_size":4,"input":[{"name":"INPUT0","dims":[5]}]}""", "dims [5] contradict the model's shape [-1,4]" },
        { "wrongrank", """{"input":[{"name":"INPUT0","dims":[4]}]}""", "dims [4] give rank 1, but the model's shape [-1,4] has rank 2" },
        { "unknowninput", """{"input":[{"name":"PIXELS","data_type":"TYPE_FP32"}]}""", "input 'PIXELS' is not in the model (its inputs: INPUT0)" },
        { "typo", """{"max_batch_sise":4}""", "max_batch_sise" },
        { "malformed", """{"max_batch_size": 4""", "config.json" },
        { "wrongname", """{"name":"other"}""", "name 'other' does not match the directory name 'wrongname'" },
        { "nobackend", """{"backend":"tensorrt"}""", "backend 'tensorrt' is not compiled into this gateway" },
        { "badtype", """{"input":[{"name":"INPUT0","data_type":"TYPE_FLOAT"}]}""", "unknown data_type 'TYPE_FLOAT'" },
        { "badparam", """{"parameters":{"intra_op_thread_count":"lots"}}""", "parameter 'intra_op_thread_count' must be an integer" },
        { "badpolicy", """{"version_policy":{"latest":{"num_versions":0}}}""", "num_versions must be at least 1" },
        { "badinstances", """{"instance_count":0}""", "instance_count must be from 1 to 64" },
    };

    [Fact]
    public async Task BadModels_ReportedWithFileAndReason_OthersServe()
    {
        var repository = ReferenceModels.CreateRepository("identity", "add_sub");
        foreach (var row in BadModels())
        {
            var (name, config) = ((string)row[0], (string)row[1]);
            OnnxModelWriter.Write(repository, name, 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
            WriteConfig(repository, name, config);
        }

        // A fixed batch dimension cannot batch; a corrupt file and a model without versions fail too.
        OnnxModelWriter.Write(repository, "fixedbatch", 1, OnnxModelWriter.Identity("FP32", [2, 4]));
        WriteConfig(repository, "fixedbatch", """{"max_batch_size":4}""");
        Directory.CreateDirectory(Path.Combine(repository, "corrupt", "1"));
        File.WriteAllBytes(Path.Combine(repository, "corrupt", "1", "model.onnx"), [8, 1, 2, 3]);
        Directory.CreateDirectory(Path.Combine(repository, "empty"));

        await using var server = await GatewayServer.StartAsync(repository);
        using (var ready = await server.Client.GetAsync("/v2/health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        var log = string.Join("\n", server.Logs.Lines);
        foreach (var row in BadModels())
        {
            var (name, message) = ((string)row[0], (string)row[2]);
            var line = server.Logs.Lines.SingleOrDefault(l => l.Contains($"Model {name} ", StringComparison.Ordinal) && l.Contains("failed to load"));
            Assert.True(line is not null, $"no failure logged for {name}:\n{log}");
            Assert.Contains(Path.Combine(repository, name, "config.json"), line);
            Assert.Contains(message, line);
            // A known model that failed is "not ready" (503) with its reason, not "unknown" (404).
            using var response = await server.Client.GetAsync($"/v2/models/{name}");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains(message.Replace("\"", "\\\""), await response.Content.ReadAsStringAsync());
        }

        Assert.True(server.Logs.Lines.Any(l => l.Contains("Model fixedbatch") && l.Contains("needs a variable first (batch) dimension")), log);
        Assert.True(server.Logs.Lines.Any(l => l.Contains("Model corrupt") && l.Contains(Path.Combine(repository, "corrupt", "1", "model.onnx"))), log);
        Assert.True(server.Logs.Lines.Any(l => l.Contains("Model empty") && l.Contains("no version directory holds a model file")), log);

        var sample = ReferenceModels.Load("add_sub", 0);
        using var good = await server.PostJsonAsync("/v2/models/add_sub/infer", V2Requests.Json(sample));
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    [Fact]
    public async Task StrictReadiness_FailedModelKeepsServerNotReady()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        Directory.CreateDirectory(Path.Combine(repository, "corrupt", "1"));
        File.WriteAllBytes(Path.Combine(repository, "corrupt", "1", "model.onnx"), [8, 1, 2, 3]);
        await using var server = await GatewayServer.StartAsync(repository, "--Gateway:StrictReadiness", "true");
        using var ready = await server.Client.GetAsync("/v2/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("1 model(s) failed to load and strict readiness is on", await ready.Content.ReadAsStringAsync());
        using var live = await server.Client.GetAsync("/v2/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        using var identity = await server.Client.GetAsync("/v2/models/identity/ready");
        Assert.Equal(HttpStatusCode.OK, identity.StatusCode);
    }

    [Fact]
    public async Task MissingRepository_StartsServingNothing()
    {
        var missing = Path.Combine(Path.GetTempPath(), "gateway-missing-" + Guid.NewGuid().ToString("N"));
        await using var server = await GatewayServer.StartAsync(missing);
        using var ready = await server.Client.GetAsync("/v2/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains(server.Logs.Lines, l => l.Contains(missing) && l.Contains("does not exist"));
    }

    /// <summary>
    /// A model the backend runs on the calling thread (identity: microseconds a run) gets one
    /// instance per core when its configuration names none, so requests at once run at once; a
    /// configured count is kept, and a long model (several intra-op threads a run) keeps one.
    /// </summary>
    [Fact]
    public async Task ShortModel_WithoutAnInstanceCount_GetsOnePerCore_AConfiguredCountIsKept()
    {
        var repository = NewRepository();
        OnnxModelWriter.Write(repository, "short", 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
        OnnxModelWriter.Write(repository, "pinned", 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
        WriteConfig(repository, "pinned", """{ "instance_count": 1 }""");
        var longModel = Path.Combine(repository, "long", "1");
        Directory.CreateDirectory(longModel);
        File.Copy(ReferenceModels.ModelFile("mobilenet_v2"), Path.Combine(longModel, "model.onnx"));
        await using var server = await GatewayServer.StartAsync(repository);
        async Task<int> Instances(string model)
        {
            using var config = JsonDocument.Parse(await server.Client.GetStringAsync($"/v2/models/{model}/config"));
            return config.RootElement.GetProperty("instance_count").GetInt32();
        }

        Assert.Equal(Math.Clamp(Environment.ProcessorCount, 1, 8), await Instances("short"));
        Assert.Equal(1, await Instances("pinned"));
        Assert.Equal(1, await Instances("long"));
    }

    [Fact]
    public async Task TritonInstanceGroupAndStringValueParameters_Accepted()
    {
        var repository = NewRepository();
        OnnxModelWriter.Write(repository, "m", 1, OnnxModelWriter.Identity("FP32", [-1, 4]));
        WriteConfig(repository, "m", """
            {
              // Comments and trailing commas are fine in config files.
              "platform": "onnxruntime_onnx",
              "max_batch_size": 4,
              "input": [{ "name": "INPUT0", "data_type": "TYPE_FP32", "dims": [4] }],
              "instance_group": [{ "count": 2, "kind": "KIND_CPU" }],
              "parameters": { "inter_op_thread_count": { "string_value": "1" }, "allow_spinning": false },
            }
            """);
        await using var server = await GatewayServer.StartAsync(repository);
        using var config = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/m/config"));
        Assert.Equal(2, config.RootElement.GetProperty("instance_count").GetInt32());
        Assert.Equal(4, config.RootElement.GetProperty("max_batch_size").GetInt32());
        Assert.Equal("onnx", config.RootElement.GetProperty("backend").GetString());
    }
}
