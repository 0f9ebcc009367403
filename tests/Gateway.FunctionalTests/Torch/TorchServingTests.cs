using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Torch;

/// <summary>The five reference models served by the same host once as <c>onnx</c>, once as <c>torch</c>.</summary>
public sealed class OnnxAndTorchServersFixture : IAsyncLifetime
{
    public GatewayServer Onnx { get; private set; } = null!;

    public GatewayServer Torch { get; private set; } = null!;

    private string _onnxRepository = null!;
    private string _torchRepository = null!;

    public async Task InitializeAsync()
    {
        _onnxRepository = TorchModels.CreateRepository("onnx", ReferenceModels.Names);
        _torchRepository = TorchModels.CreateRepository("torch", ReferenceModels.Names);
        Onnx = await GatewayServer.StartAsync(_onnxRepository);
        Torch = await GatewayServer.StartAsync(_torchRepository);
    }

    public async Task DisposeAsync()
    {
        await Onnx.DisposeAsync();
        await Torch.DisposeAsync();
        Directory.Delete(_onnxRepository, recursive: true);
        Directory.Delete(_torchRepository, recursive: true);
    }
}

/// <summary>TorchScript models through HTTP, and the same request answered alike by both backends.</summary>
[Trait("Category", "Torch")]
public class TorchServingTests(OnnxAndTorchServersFixture fixture) : IClassFixture<OnnxAndTorchServersFixture>
{
    [Theory]
    [MemberData(nameof(ReferenceModels.AllSamples), MemberType = typeof(ReferenceModels))]
    public async Task Infer_Binary_MatchesReference(string model, int index)
    {
        var sample = ReferenceModels.Load(model, index);
        using var response = await fixture.Torch.PostBinaryAsync(
            $"/v2/models/{model}/infer", V2Requests.BinaryHeader(sample), sample.Inputs.Select(i => i.Data).ToArray());
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var outputs = await ReadOutputsAsync(response);
        var (shape, values) = outputs[sample.OutputName];
        Assert.Equal(sample.Output.Shape, shape);
        Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), values), 0, ReferenceModels.Tolerance);
    }

    [Theory]
    [InlineData("identity")]
    [InlineData("add_sub")]
    [InlineData("bert_tiny")]
    public async Task Infer_Json_MatchesReference(string model)
    {
        var sample = ReferenceModels.Load(model, 2);
        using var response = await fixture.Torch.PostJsonAsync($"/v2/models/{model}/infer", V2Requests.Json(sample));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var (json, _) = await GatewayServer.ReadInferResponseAsync(response);
        var output = V2Requests.Output(json, sample.OutputName);
        Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), V2Requests.Data(output)), 0, ReferenceModels.Tolerance);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public async Task SameRequest_OnnxAndTorch_GiveTheSameOutputs(string model)
    {
        var sample = ReferenceModels.Load(model, 3);
        var header = V2Requests.BinaryHeader(sample);
        var data = sample.Inputs.Select(i => i.Data).ToArray();
        using var fromOnnx = await fixture.Onnx.PostBinaryAsync($"/v2/models/{model}/infer", header, data);
        using var fromTorch = await fixture.Torch.PostBinaryAsync($"/v2/models/{model}/infer", header, data);
        Assert.Equal(HttpStatusCode.OK, fromOnnx.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fromTorch.StatusCode);
        var onnx = await ReadOutputsAsync(fromOnnx);
        var torch = await ReadOutputsAsync(fromTorch);
        Assert.Equal(onnx.Keys.Order(), torch.Keys.Order());
        Assert.Equal(TorchModels.Declarations[model].Outputs.Length, torch.Count);
        foreach (var (name, (shape, values)) in onnx)
        {
            Assert.Equal(shape, torch[name].Shape);
            Assert.InRange(ReferenceModels.MaxAbsDiff(values, torch[name].Values), 0, ReferenceModels.Tolerance);
        }
    }

    [Fact]
    public async Task Metadata_NamesEachBackendsPlatform()
    {
        using var onnx = JsonDocument.Parse(await fixture.Onnx.Client.GetStringAsync("/v2/models/mlp"));
        using var torch = JsonDocument.Parse(await fixture.Torch.Client.GetStringAsync("/v2/models/mlp"));
        Assert.Equal("onnxruntime_onnx", onnx.RootElement.GetProperty("platform").GetString());
        Assert.Equal("pytorch_libtorch", torch.RootElement.GetProperty("platform").GetString());
        Assert.Equal("logits", torch.RootElement.GetProperty("outputs")[0].GetProperty("name").GetString());
    }

    [Fact]
    public async Task Infer_TooLongForTheModel_Is400WithTorchsReason_AndServingGoesOn()
    {
        var ids = "[" + string.Join(",", Enumerable.Repeat(1, 600)) + "]";
        var body = $$"""{"inputs":[{"name":"input_ids","datatype":"INT64","shape":[1,600],"data":{{ids}}},{"name":"attention_mask","datatype":"INT64","shape":[1,600],"data":{{ids}}}]}""";
        using var response = await fixture.Torch.PostJsonAsync("/v2/models/bert_tiny/infer", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("600", error.RootElement.GetProperty("error").GetString());

        var sample = ReferenceModels.Load("bert_tiny", 0);
        using var after = await fixture.Torch.PostJsonAsync("/v2/models/bert_tiny/infer", V2Requests.Json(sample));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    public static IEnumerable<object[]> Models() => ReferenceModels.Names.Select(n => new object[] { n });

    /// <summary>Every output of a binary-output response, by name: shape and values.</summary>
    internal static async Task<Dictionary<string, (long[] Shape, double[] Values)>> ReadOutputsAsync(HttpResponseMessage response)
    {
        var (json, binary) = await GatewayServer.ReadInferResponseAsync(response);
        var result = new Dictionary<string, (long[], double[])>();
        var offset = 0;
        foreach (var output in json.RootElement.GetProperty("outputs").EnumerateArray())
        {
            var name = output.GetProperty("name").GetString()!;
            var shape = V2Requests.Shape(output);
            if (output.TryGetProperty("data", out _))
            {
                result[name] = (shape, V2Requests.Data(output));
                continue;
            }

            var size = output.GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
            result[name] = (shape, ReferenceModels.Values(output.GetProperty("datatype").GetString()!, binary.AsSpan(offset, size)));
            offset += size;
        }

        return result;
    }
}
