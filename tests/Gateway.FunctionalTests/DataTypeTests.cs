using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests;

/// <summary>
/// Every protocol datatype through real ONNX Runtime Identity models, as JSON and as binary:
/// extremes, special floats and escaped strings come back exactly.
/// </summary>
public sealed class DataTypeTests : IAsyncLifetime
{
    private GatewayServer _server = null!;
    private string _repository = null!;

    public static TheoryData<string, string> JsonValues() => new()
    {
        { "BOOL", "[true,false,false,true]" },
        { "UINT8", "[0,1,128,255]" },
        { "INT8", "[-128,-1,0,127]" },
        { "UINT16", "[0,1,32768,65535]" },
        { "INT16", "[-32768,-1,0,32767]" },
        { "UINT32", "[0,1,2147483648,4294967295]" },
        { "INT32", "[-2147483648,-1,0,2147483647]" },
        { "UINT64", "[0,1,9223372036854775808,18446744073709551615]" },
        { "INT64", "[-9223372036854775808,-1,0,9223372036854775807]" },
        { "FP16", "[1.5,-0.25,65504,\"NaN\"]" },
        { "BF16", "[1.5,-2,3.140625,\"-Infinity\"]" },
        { "FP32", "[1.5,-3.4028235E+38,1E-45,\"Infinity\"]" },
        { "FP64", "[0.1,-1.7976931348623157E+308,5E-324,\"NaN\"]" },
        { "BYTES", "[\"a\",\"\",\"h\u00e9llo \\\"quoted\\\"\",\"\\u2603\"]" },
    };

    public async Task InitializeAsync()
    {
        _repository = Directory.CreateTempSubdirectory("gateway-types-").FullName;
        foreach (var type in OnnxModelWriter.ElementTypes.Keys)
        {
            OnnxModelWriter.Write(_repository, "id_" + type.ToLowerInvariant(), 1, OnnxModelWriter.Identity(type, [-1, 4]));
        }

        _server = await GatewayServer.StartAsync(_repository);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    [Theory]
    [MemberData(nameof(JsonValues))]
    public async Task Json_RoundTripsExactly(string type, string data)
    {
        var body = $$$"""{"inputs":[{"name":"INPUT0","datatype":"{{{type}}}","shape":[1,4],"data":{{{data}}}}]}""";
        using var response = await _server.PostJsonAsync($"/v2/models/id_{type.ToLowerInvariant()}/infer", body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        var output = json.RootElement.GetProperty("outputs")[0];
        Assert.Equal(type, output.GetProperty("datatype").GetString());
        using var expected = JsonDocument.Parse(data);
        Assert.Equal(Normalise(expected.RootElement), Normalise(output.GetProperty("data")));
    }

    [Theory]
    [MemberData(nameof(JsonValues))]
    public async Task Binary_RoundTripsTheSameBytes(string type, string data)
    {
        // Ask for JSON once to learn the exact bytes, then send those bytes as binary.
        var jsonBody = $$$"""{"inputs":[{"name":"INPUT0","datatype":"{{{type}}}","shape":[1,4],"data":{{{data}}}}],"parameters":{"binary_data_output":true}}""";
        using var first = await _server.PostJsonAsync($"/v2/models/id_{type.ToLowerInvariant()}/infer", jsonBody);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var (_, bytes) = await GatewayServer.ReadInferResponseAsync(first);
        Assert.NotEmpty(bytes);

        var header = $$$"""{"inputs":[{"name":"INPUT0","datatype":"{{{type}}}","shape":[1,4],"parameters":{"binary_data_size":{{{bytes.Length}}}}}],"parameters":{"binary_data_output":true}}""";
        using var second = await _server.PostBinaryAsync($"/v2/models/id_{type.ToLowerInvariant()}/infer", header, bytes);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var (json, binary) = await GatewayServer.ReadInferResponseAsync(second);
        Assert.Equal(bytes, binary);
        Assert.Equal(bytes.Length, json.RootElement.GetProperty("outputs")[0].GetProperty("parameters").GetProperty("binary_data_size").GetInt32());
    }

    [Fact]
    public async Task Bytes_BadFraming_Rejected()
    {
        var header = """{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1,4],"parameters":{"binary_data_size":9}}]}""";
        byte[] data = [1, 0, 0, 0, (byte)'a', 200, 0, 0, 0];
        using var response = await _server.PostBinaryAsync("/v2/models/id_bytes/infer", header, data);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("BYTES element 1 claims 200 bytes", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Bytes_NotUtf8_AsJson_IsAClearError()
    {
        var header = """{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1,4],"parameters":{"binary_data_size":18}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":false}}]}""";
        byte[] data = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0xC3, 0x28];
        using var response = await _server.PostBinaryAsync("/v2/models/id_bytes/infer", header, data);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("not valid UTF-8", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task BoolAsNumber_Rejected()
    {
        using var response = await _server.PostJsonAsync(
            "/v2/models/id_bool/infer", """{"inputs":[{"name":"INPUT0","datatype":"BOOL","shape":[1,4],"data":[1,0,1,0]}]}""");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("element 0 of 'data' is not a valid BOOL value", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("UINT8", "256")]
    [InlineData("INT8", "-129")]
    [InlineData("UINT16", "-1")]
    [InlineData("UINT64", "18446744073709551616")]
    public async Task OutOfRangeIntegers_Rejected(string type, string value)
    {
        var body = $$$"""{"inputs":[{"name":"INPUT0","datatype":"{{{type}}}","shape":[1,4],"data":[0,0,0,{{{value}}}]}]}""";
        using var response = await _server.PostJsonAsync($"/v2/models/id_{type.ToLowerInvariant()}/infer", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains($"element 3 of 'data' is not a valid {type} value", await response.Content.ReadAsStringAsync());
    }

    /// <summary>Numbers compared by value (1.5 and 1.50 are equal), strings and booleans as they are.</summary>
    private static string Normalise(JsonElement array) => string.Join("|", array.EnumerateArray().Select(e => e.ValueKind switch
    {
        JsonValueKind.Number => e.TryGetDecimal(out var d) ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : e.GetDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        JsonValueKind.String => "s:" + e.GetString(),
        _ => e.GetRawText(),
    }));
}
