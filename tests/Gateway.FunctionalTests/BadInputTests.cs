using System.Net;
using System.Text;
using System.Text.Json;

namespace Gateway.FunctionalTests;

/// <summary>
/// Bad input gets a clear error with the right status and a body naming what was wrong; never a
/// 500, and the server keeps serving (every case ends with a good request).
/// </summary>
[Collection(ReferenceServerCollection.Name)]
public class BadInputTests(ReferenceServerFixture fixture)
{
    private static readonly string s_sixteen = "[" + string.Join(",", Enumerable.Repeat("1", 16)) + "]";

    private GatewayServer Server => fixture.Server;

    public static TheoryData<string, string, int, string> JsonCases() => new()
    {
        { "identity", """{"inputs": [""", 400, "malformed JSON" },
        { "identity", "[1,2,3]", 400, "must be a JSON object" },
        { "identity", """{"inputs":[]} trailing""", 400, "malformed JSON" },
        { "identity", """{"id":"x"}""", 400, "no 'inputs'" },
        { "identity", """{"inputs":{}}""", 400, "'inputs' must be an array" },
        { "identity", """{"inputs":[{"name":"FOO","datatype":"FP32","shape":[1,16],"data":[1]}]}""", 400, "unknown input 'FOO' (the model's inputs: INPUT0)" },
        { "add_sub", $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":{{s_sixteen}}}]}""", 400, "missing input 'INPUT1' (INT32 [-1,16])" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,2,3]}]}""", 400, "input 'INPUT0': 'data' has 3 element(s), but shape [1,16] needs 16" },
        { "identity", $$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,8],"data":{{s_sixteen}}}]}""", 400, "input 'INPUT0': shape [1,8] does not match the model's [-1,16]" },
        { "identity", $$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,2,8],"data":{{s_sixteen}}}]}""", 400, "shape [1,2,8] does not match the model's [-1,16]" },
        { "identity", $$"""{"inputs":[{"name":"INPUT0","datatype":"FP64","shape":[1,16],"data":{{s_sixteen}}}]}""", 400, "input 'INPUT0': datatype FP64 does not match the model's FP32" },
        { "identity", $$"""{"inputs":[{"name":"INPUT0","datatype":"FLOAT","shape":[1,16],"data":{{s_sixteen}}}]}""", 400, "'datatype' must be one of" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,1,1,"abc",1,1,1,1,1,1,1,1,1,1,1,1]}]}""", 400, "element 3 of 'data' is not a valid FP32 value" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""", 400, "'data' has more than the 16 element(s)" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[[1,1],{"a":1}]}]}""", 400, "element 2 of 'data' is not a valid FP32" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[4611686018427387904,16],"data":[1]}]}""", 400, "has too many elements" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[-1,16],"data":[1]}]}""", 400, "'shape' must hold non-negative integers" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,1,1,1,1,1,1,1,1],"data":[1]}]}""", 400, "more than 8 dimensions" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":"1,16","data":[1]}]}""", 400, "'shape' must be an array of integers" },
        { "identity", $$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{s_sixteen}}},{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{s_sixteen}}}]}""", 400, "input 'INPUT0' is given twice" },
        { "identity", """{"inputs":[{"datatype":"FP32","shape":[1,16],"data":[1]}]}""", 400, "has no 'name'" },
        { "identity", """{"inputs":[{"name":"INPUT0","shape":[1,16],"data":[1]}]}""", 400, "input 'INPUT0' has no 'datatype' (the model expects FP32)" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","data":[1]}]}""", 400, "input 'INPUT0' has no 'shape' (the model expects [-1,16])" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16]}]}""", 400, "has neither 'data' nor a 'binary_data_size'" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":5}]}""", 400, "'data' must be an array" },
        { "identity", $$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{s_sixteen}}}],"outputs":[{"name":"NOPE"}]}""", 400, "unknown output 'NOPE' (the model's outputs: OUTPUT0)" },
        { "identity", $$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{s_sixteen}}}],"outputs":[{"name":"OUTPUT0"},{"name":"OUTPUT0"}]}""", 400, "output 'OUTPUT0' is requested twice" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"outputs":[{"name":"OUTPUT0","parameters":{"classification":3}}]}""", 400, "'classification' is not supported" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}},"parameters":{"binary_data_size":64}}]}""", 400, "has both 'data' and 'binary_data_size'" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"parameters":{"binary_data_size":64}}]}""", 400, "no Inference-Header-Content-Length header" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"parameters":{"priority":-1}}""", 400, "'priority' must be a non-negative integer" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"parameters":{"binary_data_output":"yes"}}""", 400, "'binary_data_output' must be true or false" },
        { "add_sub", """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,30000000000]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""", 400, "element 15 of 'data' is not a valid INT32 value" },
        { "add_sub", """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1.5]},{"name":"INPUT1","datatype":"INT32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""", 400, "element 15 of 'data' is not a valid INT32 value" },
        { "add_sub_b8", """{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[9,16],"data":[1]},{"name":"INPUT1","datatype":"INT32","shape":[9,16],"data":[1]}]}""", 400, "input 'INPUT0': batch size 9 exceeds the model's max_batch_size 8" },
        { "add_sub_b8", $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,16],"data":{{s_sixteen}}},{"name":"INPUT1","datatype":"INT32","shape":[0,16],"data":[]}]}""", 400, "input 'INPUT1' has batch size 0, but input 'INPUT0' has 1" },
        { "bert_tiny", """{"inputs":[{"name":"input_ids","datatype":"INT64","shape":[1,2],"data":[1,99999999]},{"name":"attention_mask","datatype":"INT64","shape":[1,2],"data":[1,1]}]}""", 400, "model 'bert_tiny' version 1 failed" },

        // Issue 11, seen from outside: each of these answered 500 "internal error".
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":1,"shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "input 'INPUT0': 'datatype' must be a string, one of BOOL" },
        { "identity", $$$"""{"\udc00":0,"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "a member name of the request object is not valid text: \\udc00 is a lone UTF-16 surrogate" },
        { "identity", $$$"""{"id":"\udc00","inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "'id' is not valid text: \\udc00 is a lone UTF-16 surrogate" },

        // The same class, found by reading the parser: every string it decodes and every name it matches.
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","\ud800x":1,"datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "input 'INPUT0': a member name is not valid text: \\ud800 is a lone UTF-16 surrogate" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}},"parameters":{"\udfff":1}}]}""", 400, "input 'INPUT0': a member name of 'parameters' is not valid text" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"parameters":{"\udc00":1}}""", 400, "a member name of the request's 'parameters' is not valid text" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"outputs":[{"\udc00":1,"name":"OUTPUT0"}]}""", 400, "an entry of 'outputs': a member name is not valid text" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"outputs":[{"name":"OUTPUT0","parameters":{"\udc00":1}}]}""", 400, "output 'OUTPUT0': a member name of 'parameters' is not valid text" },
        { "identity", $$$"""{"inputs":[{"name":"IN\udc00","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "an input's 'name' is not valid text: \\udc00 is a lone UTF-16 surrogate" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"outputs":[{"name":"\ud800"}]}""", 400, "an output's 'name' is not valid text: \\ud800 is a lone UTF-16 surrogate" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"F\udc00","shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "input 'INPUT0': 'datatype' is not valid text" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":["FP32"],"shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "'datatype' must be a string, one of BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES (got an array)" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":null,"shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "(got null)" },

        // Duplicate members: a second value would silently replace (or, for 'shape', extend) the first.
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1],"shape":[16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""", 400, "input 'INPUT0': 'shape' is given twice" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","datatype":"FP64","shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "input 'INPUT0': 'datatype' is given twice" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "input 'INPUT0': 'name' is given twice" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}},"data":{{{s_sixteen}}}}]}""", 400, "input 'INPUT0': 'data' is given twice" },
        { "identity", $$$"""{"id":"a","id":"b","inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}]}""", 400, "'id' is given twice" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"parameters":{"priority":1,"priority":2}}""", 400, "parameter 'priority' is given twice" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true,"binary_data":false}}]}""", 400, "output 'OUTPUT0': parameter 'binary_data' is given twice" },

        // Numbers out of range: a finite JSON number must not turn into infinity.
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1e39]}]}""", 400, "element 15 of 'data' is not a valid FP32 value" },
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"-1e39"]}]}""", 400, "element 15 of 'data' is not a valid FP32 value" },

        // Scheduling parameters out of range for a timer or a queue.
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"parameters":{"timeout":1000000000000000000}}""", 400, "parameter 'timeout' must be from 0 to 4294967294000 microseconds" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"parameters":{"timeout":4294967295000}}""", 400, "parameter 'timeout' must be from 0 to 4294967294000 microseconds" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"parameters":{"timeout":"5"}}""", 400, "parameter 'timeout' must be" },
        { "identity", $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{{s_sixteen}}}}],"parameters":{"priority":4294967296}}""", 400, "'priority' must be a non-negative integer" },

        // Allocation before data: a few bytes claiming a shape of 2 GiB.
        { "identity", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[33554431,16],"data":[1]}]}""", 400, "input 'INPUT0': 'data' has 1 element(s), but shape [33554431,16] needs 536870896" },
    };

    [Theory]
    [MemberData(nameof(JsonCases))]
    public async Task BadJsonRequest_ClearErrorAndServerKeepsServing(string model, string body, int status, string message)
    {
        using var response = await Server.PostJsonAsync($"/v2/models/{model}/infer", body);
        await AssertErrorAsync(response, status, message);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task EscapedValidText_ReadAsItsUnescapedValue()
    {
        using var response = await Server.PostJsonAsync(
            "/v2/models/identity/infer",
            $$"""{"id":"\u0041\ud83d\ude00","inputs":[{"name":"INPUT\u0030","datatype":"FP\u0033\u0032","shape":[1,16],"data":{{s_sixteen}}}]}""");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        using var json = JsonDocument.Parse(text);
        Assert.Equal("A\U0001F600", json.RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task DeeplyNestedJson_Rejected()
    {
        var body = """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":""" + new string('[', 200) + new string(']', 200) + "}]}";
        using var response = await Server.PostJsonAsync("/v2/models/identity/infer", body);
        await AssertErrorAsync(response, 400, "malformed JSON");
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task EmptyBody_Rejected()
    {
        using var response = await Server.Client.PostAsync("/v2/models/identity/infer", new ByteArrayContent([]));
        await AssertErrorAsync(response, 400, "the request body is empty");
    }

    [Theory]
    [InlineData(60, 0, "binary_data_size is 60 bytes, but FP32 [1,16] needs 64")]
    [InlineData(64, -4, "binary_data_size 64 runs past the end of the binary data (60 bytes left)")]
    [InlineData(64, 8, "the binary data holds 8 byte(s) that no input claims")]
    public async Task BadBinaryRequest_ClearError(int declared, int extra, string message)
    {
        var header = $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"parameters":{"binary_data_size":{{{declared}}}}}]}""";
        using var response = await Server.PostBinaryAsync("/v2/models/identity/infer", header, new byte[Math.Max(0, declared + extra)]);
        await AssertErrorAsync(response, 400, message);
        await AssertStillServingAsync();
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("1")]
    [InlineData("99999")]
    public async Task BadHeaderLength_ClearError(string value)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes("""{"inputs":[]}"""));
        content.Headers.Add("Inference-Header-Content-Length", value);
        using var response = await Server.Client.PostAsync("/v2/models/identity/infer", content);
        await AssertErrorAsync(response, 400, "Inference-Header-Content-Length must be an integer");
    }

    [Fact]
    public async Task BytesTypeMismatch_ClearError()
    {
        var body = """{"inputs":[{"name":"INPUT0","datatype":"BYTES","shape":[1,16],"data":["a"]}]}""";
        using var response = await Server.PostJsonAsync("/v2/models/identity/infer", body);
        await AssertErrorAsync(response, 400, "datatype BYTES does not match the model's FP32");
    }

    [Theory]
    [InlineData("/v2/models/nope/infer", "unknown model 'nope'")]
    [InlineData("/v2/models/identity/versions/7/infer", "model 'identity' has no version '7' being served (served: 1)")]
    [InlineData("/v2/models/identity/versions/x1/infer", "has no version 'x1'")]
    public async Task UnknownModelOrVersion_Is404(string path, string message)
    {
        using var response = await Server.PostJsonAsync(path, "{}");
        await AssertErrorAsync(response, 404, message);
    }

    [Fact]
    public async Task ManyBadRequestsInParallel_NeverA500()
    {
        var cases = JsonCases().Select(row => ((string)row[0], (string)row[1], (int)row[2])).ToArray();
        var tasks = Enumerable.Range(0, 200).Select(async i =>
        {
            var (model, body, status) = cases[i % cases.Length];
            using var response = await Server.PostJsonAsync($"/v2/models/{model}/infer", body);
            return ((int)response.StatusCode, status);
        });
        foreach (var (actual, expected) in await Task.WhenAll(tasks))
        {
            Assert.Equal(expected, actual);
        }

        await AssertStillServingAsync();
    }

    private static async Task AssertErrorAsync(HttpResponseMessage response, int status, string message)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True((int)response.StatusCode == status, $"expected {status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(text);
        var error = json.RootElement.GetProperty("error").GetString();
        Assert.Contains(message, error);
    }

    private async Task AssertStillServingAsync()
    {
        using var response = await Server.PostJsonAsync(
            "/v2/models/identity/infer", $$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":{{s_sixteen}}}]}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
