using System.Net;
using Gateway.Testing;

namespace Gateway.FunctionalTests;

/// <summary>Every reference sample through the running server, as JSON and as binary.</summary>
[Collection(ReferenceServerCollection.Name)]
public class ReferenceSampleTests(ReferenceServerFixture fixture)
{
    private GatewayServer Server => fixture.Server;

    [Theory]
    [MemberData(nameof(ReferenceModels.AllSamples), MemberType = typeof(ReferenceModels))]
    public async Task Infer_Json_MatchesReference(string model, int index)
    {
        var sample = ReferenceModels.Load(model, index);
        using var response = await Server.PostJsonAsync($"/v2/models/{model}/infer", V2Requests.Json(sample));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var (json, binary) = await GatewayServer.ReadInferResponseAsync(response);
        Assert.Empty(binary);
        Assert.Equal(model, json.RootElement.GetProperty("model_name").GetString());
        Assert.Equal("1", json.RootElement.GetProperty("model_version").GetString());
        Assert.Equal(sample.ToString(), json.RootElement.GetProperty("id").GetString());
        var output = V2Requests.Output(json, sample.OutputName);
        Assert.Equal(sample.Output.Shape, V2Requests.Shape(output));
        Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), V2Requests.Data(output)), 0, ReferenceModels.Tolerance);
    }

    [Theory]
    [MemberData(nameof(ReferenceModels.AllSamples), MemberType = typeof(ReferenceModels))]
    public async Task Infer_Binary_MatchesReference(string model, int index)
    {
        var sample = ReferenceModels.Load(model, index);
        using var response = await Server.PostBinaryAsync(
            $"/v2/models/{model}/versions/1/infer", V2Requests.BinaryHeader(sample), sample.Inputs.Select(i => i.Data).ToArray());
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType!.MediaType);
        var (json, binary) = await GatewayServer.ReadInferResponseAsync(response);

        // Outputs appear in order, each with its size; the first one is the sample's reference.
        var offset = 0;
        foreach (var output in json.RootElement.GetProperty("outputs").EnumerateArray())
        {
            Assert.False(output.TryGetProperty("data", out _));
            var size = output.GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
            if (output.GetProperty("name").GetString() == sample.OutputName)
            {
                Assert.Equal(sample.Output.Shape, V2Requests.Shape(output));
                var values = ReferenceModels.Values(output.GetProperty("datatype").GetString()!, binary.AsSpan(offset, size));
                Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), values), 0, ReferenceModels.Tolerance);
            }

            offset += size;
        }

        Assert.Equal(binary.Length, offset);
    }

    [Fact]
    public async Task Infer_MixedJsonAndBinary_InOneRequest()
    {
        var sample = ReferenceModels.Load("add_sub", 2);
        var header = $$$"""
            {"inputs":[
              {"name":"INPUT0","datatype":"INT32","shape":[3,16],"parameters":{"binary_data_size":{{{sample.Inputs[0].Data.Length}}}}},
              {"name":"INPUT1","datatype":"INT32","shape":[3,16],"data":{{{sample.Inputs[1].JsonData()}}}}],
             "outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}},{"name":"OUTPUT1"}]}
            """;
        using var response = await Server.PostBinaryAsync("/v2/models/add_sub/infer", header, sample.Inputs[0].Data);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (json, binary) = await GatewayServer.ReadInferResponseAsync(response);
        var sum = ReferenceModels.Values("INT32", binary);
        var difference = V2Requests.Data(V2Requests.Output(json, "OUTPUT1"));
        var a = sample.Inputs[0].Values();
        var b = sample.Inputs[1].Values();
        for (var i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i] + b[i], sum[i]);
            Assert.Equal(a[i] - b[i], difference[i]);
        }
    }

    [Fact]
    public async Task Infer_DataBeforeNameAndShape_AndNestedData_Parse()
    {
        var nested = "[[" + string.Join(",", Enumerable.Range(0, 8)) + "],[" + string.Join(",", Enumerable.Range(8, 8)) + "]]";
        var body = $$"""{"inputs":[{"data":{{nested}},"shape":[1,16],"datatype":"FP32","name":"INPUT0"}]}""";
        using var response = await Server.PostJsonAsync("/v2/models/identity/infer", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (json, _) = await GatewayServer.ReadInferResponseAsync(response);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (double)i), V2Requests.Data(V2Requests.Output(json, "OUTPUT0")));
        Assert.False(json.RootElement.TryGetProperty("id", out _));
    }

    [Fact]
    public async Task Infer_OutputsSelection_ReturnsOnlyThose()
    {
        var sample = ReferenceModels.Load("add_sub", 0);
        var body = V2Requests.Json(sample).Replace("\"outputs\":[{\"name\":\"OUTPUT0\"}]", "\"outputs\":[{\"name\":\"OUTPUT1\"}]");
        using var response = await Server.PostJsonAsync("/v2/models/add_sub/infer", body);
        var (json, _) = await GatewayServer.ReadInferResponseAsync(response);
        var outputs = json.RootElement.GetProperty("outputs");
        Assert.Equal(1, outputs.GetArrayLength());
        Assert.Equal("OUTPUT1", outputs[0].GetProperty("name").GetString());
    }

    [Fact]
    public async Task Infer_NoOutputsListed_ReturnsAllInModelOrder()
    {
        var sample = ReferenceModels.Load("add_sub", 0);
        var body = V2Requests.Json(sample).Replace(",\"outputs\":[{\"name\":\"OUTPUT0\"}]", string.Empty);
        using var response = await Server.PostJsonAsync("/v2/models/add_sub/infer", body);
        var (json, _) = await GatewayServer.ReadInferResponseAsync(response);
        Assert.Equal(["OUTPUT0", "OUTPUT1"], json.RootElement.GetProperty("outputs").EnumerateArray().Select(o => o.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Infer_EscapedIdAndNames_AreUnescaped()
    {
        var body = """{"id":"caf\u00e9 \"q\"","inputs":[{"name":"INPUT\u0030","datatype":"FP32","shape":[1,16],"data":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]}],"outputs":[{"name":"OUTPU\u00540"}]}""";
        using var response = await Server.PostJsonAsync("/v2/models/identity/infer", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (json, _) = await GatewayServer.ReadInferResponseAsync(response);
        Assert.Equal("café \"q\"", json.RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Infer_PerOutputBinaryOverridesRequestDefault()
    {
        var sample = ReferenceModels.Load("add_sub", 0);
        var header = V2Requests.BinaryHeader(sample).Replace("]," + "\"parameters\":{\"binary_data_output\":true}}",
            "],\"outputs\":[{\"name\":\"OUTPUT0\",\"parameters\":{\"binary_data\":false}},{\"name\":\"OUTPUT1\"}],\"parameters\":{\"binary_data_output\":true}}");
        using var response = await Server.PostBinaryAsync("/v2/models/add_sub/infer", header, sample.Inputs.Select(i => i.Data).ToArray());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var (json, binary) = await GatewayServer.ReadInferResponseAsync(response);
        Assert.True(V2Requests.Output(json, "OUTPUT0").TryGetProperty("data", out _));
        Assert.Equal(64, V2Requests.Output(json, "OUTPUT1").GetProperty("parameters").GetProperty("binary_data_size").GetInt32());
        Assert.Equal(64, binary.Length);
    }
}
