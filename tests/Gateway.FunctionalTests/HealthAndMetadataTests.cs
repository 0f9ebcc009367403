using System.Net;
using System.Text.Json;

namespace Gateway.FunctionalTests;

[Collection(ReferenceServerCollection.Name)]
public class HealthAndMetadataTests(ReferenceServerFixture fixture)
{
    private HttpClient Client => fixture.Server.Client;

    [Theory]
    [InlineData("/v2/health/live")]
    [InlineData("/v2/health/ready")]
    [InlineData("/v2/models/identity/ready")]
    [InlineData("/v2/models/identity/versions/1/ready")]
    [InlineData("/v2/models/bert_tiny/ready")]
    public async Task Health_Ok(string path)
    {
        using var response = await Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task ServerMetadata_ListsOnlyImplementedExtensions()
    {
        using var json = JsonDocument.Parse(await Client.GetStringAsync("/v2"));
        Assert.Equal("inference-gateway", json.RootElement.GetProperty("name").GetString());
        Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("version").GetString()));
        Assert.Equal(["binary_tensor_data", "model_configuration", "model_repository", "schedule_policy", "statistics"], json.RootElement.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task ModelMetadata_IsShapedAsTheSpecSays()
    {
        var text = await Client.GetStringAsync("/v2/models/add_sub");
        Assert.Equal(
            """{"name":"add_sub","versions":["1"],"platform":"onnxruntime_onnx","inputs":[{"name":"INPUT0","datatype":"INT32","shape":[-1,16]},{"name":"INPUT1","datatype":"INT32","shape":[-1,16]}],"outputs":[{"name":"OUTPUT0","datatype":"INT32","shape":[-1,16]},{"name":"OUTPUT1","datatype":"INT32","shape":[-1,16]}]}""",
            text);
        Assert.Equal(text, await Client.GetStringAsync("/v2/models/add_sub/versions/1"));
    }

    [Fact]
    public async Task ModelMetadata_VariableDimsAreMinusOne()
    {
        using var json = JsonDocument.Parse(await Client.GetStringAsync("/v2/models/bert_tiny"));
        var input = json.RootElement.GetProperty("inputs")[0];
        Assert.Equal("INT64", input.GetProperty("datatype").GetString());
        Assert.Equal([-1L, -1L], input.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal([-1L, -1L, 128L], json.RootElement.GetProperty("outputs")[0].GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
    }

    [Fact]
    public async Task ModelConfig_AutoCompletedWithoutConfigFile()
    {
        using var json = JsonDocument.Parse(await Client.GetStringAsync("/v2/models/mobilenet_v2/config"));
        var root = json.RootElement;
        Assert.Equal("onnx", root.GetProperty("backend").GetString());
        Assert.Equal(0, root.GetProperty("max_batch_size").GetInt32());
        var input = root.GetProperty("input")[0];
        Assert.Equal("input", input.GetProperty("name").GetString());
        Assert.Equal("TYPE_FP32", input.GetProperty("data_type").GetString());
        Assert.Equal([-1L, 3, 224, 224], input.GetProperty("dims").EnumerateArray().Select(e => e.GetInt64()));
    }

    [Fact]
    public async Task ModelConfig_WithBatchDimension_DimsExcludeIt()
    {
        using var json = JsonDocument.Parse(await Client.GetStringAsync("/v2/models/add_sub_b8/config"));
        var root = json.RootElement;
        Assert.Equal(8, root.GetProperty("max_batch_size").GetInt32());
        Assert.Equal([16L], root.GetProperty("input")[1].GetProperty("dims").EnumerateArray().Select(e => e.GetInt64()));
        Assert.Equal("1", root.GetProperty("parameters").GetProperty("intra_op_thread_count").GetProperty("string_value").GetString());
    }

    [Theory]
    [InlineData("/v2/models/nope", "unknown model 'nope'")]
    [InlineData("/v2/models/nope/ready", "unknown model 'nope'")]
    [InlineData("/v2/models/identity/versions/2", "has no version '2'")]
    [InlineData("/v2/models/identity/versions/abc/ready", "has no version 'abc'")]
    [InlineData("/v2/nothing/here", "no endpoint for GET /v2/nothing/here")]
    public async Task Unknown_Is404WithAJsonError(string path, string message)
    {
        using var response = await Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains(message, json.RootElement.GetProperty("error").GetString());
    }
}
