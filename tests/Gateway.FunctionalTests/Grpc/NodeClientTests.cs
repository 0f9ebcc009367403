using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gateway.FunctionalTests.Auth;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Grpc;

/// <summary>
/// The V2 gRPC service through Node's <c>@grpc/grpc-js</c> and <c>@grpc/proto-loader</c>
/// (tests/grpc-node/client.mjs): every reference sample answers REST's binary bytes, and missing
/// credentials, a role too low and bad input get their codes. <c>./build.sh test</c> runs
/// <c>npm ci --prefix tests/grpc-node</c> first.
/// </summary>
[Collection(GrpcServerCollection.Name)]
public class NodeClientTests(GrpcServerFixture fixture)
{
    private static string Directory => Path.Combine(ReferenceModels.RepositoryRoot, "tests", "grpc-node");

    private static JsonObject InferCall(Sample sample, string token)
    {
        var inputs = new JsonArray();
        var raw = new JsonArray();
        for (var i = 0; i < sample.Inputs.Length; i++)
        {
            inputs.Add(new JsonObject
            {
                ["name"] = sample.InputNames[i],
                ["datatype"] = sample.Inputs[i].DataType,
                ["shape"] = new JsonArray(sample.Inputs[i].Shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
            });
            raw.Add(Convert.ToBase64String(sample.Inputs[i].Data));
        }

        return new JsonObject
        {
            ["method"] = "ModelInfer",
            ["metadata"] = new JsonObject { ["authorization"] = "Bearer " + token },
            ["request"] = new JsonObject { ["model_name"] = sample.Model, ["id"] = sample.ToString(), ["inputs"] = inputs, ["raw_input_contents"] = raw },
        };
    }

    private async Task<List<JsonElement>> RunAsync(JsonArray calls)
    {
        Assert.True(System.IO.Directory.Exists(Path.Combine(Directory, "node_modules")), "run 'npm ci --prefix tests/grpc-node' (./build.sh test does)");
        var plan = Path.GetTempFileName();
        await File.WriteAllTextAsync(plan, calls.ToJsonString());
        try
        {
            var info = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Directory };
            info.ArgumentList.Add(Path.Combine(Directory, "client.mjs"));
            info.ArgumentList.Add($"127.0.0.1:{fixture.GrpcPort}");
            info.ArgumentList.Add(plan);
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
            await process.WaitForExitAsync(timeout.Token);
            Assert.True(process.ExitCode == 0, await stderr);
            return (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        }
        finally
        {
            File.Delete(plan);
        }
    }

    [Fact]
    public async Task EveryReferenceSample_IsBitExactWithRestBinary()
    {
        var samples = ReferenceModels.AllSamples().Select(s => ReferenceModels.Load((string)s[0], (int)s[1])).ToList();
        var calls = new JsonArray(samples.Select(s => (JsonNode)InferCall(s, fixture.Server.AccessToken)).ToArray());
        var results = await RunAsync(calls);
        Assert.Equal(samples.Count, results.Count);
        for (var n = 0; n < samples.Count; n++)
        {
            var sample = samples[n];
            var result = results[n];
            Assert.True(result.GetProperty("code").GetInt32() == 0, $"{sample}: {result}");
            var response = result.GetProperty("response");
            Assert.Equal(sample.ToString(), response.GetProperty("id").GetString());
            using var rest = await fixture.Server.PostBinaryAsync(
                $"/v2/models/{sample.Model}/infer", V2Requests.BinaryHeader(sample), sample.Inputs.Select(i => i.Data).ToArray());
            Assert.Equal(HttpStatusCode.OK, rest.StatusCode);
            var (json, binary) = await GatewayServer.ReadInferResponseAsync(rest);
            var offset = 0;
            var outputs = response.GetProperty("outputs").EnumerateArray().ToArray();
            var raw = response.GetProperty("raw_output_contents").EnumerateArray().Select(r => Convert.FromBase64String(r.GetString()!)).ToArray();
            var restOutputs = json.RootElement.GetProperty("outputs").EnumerateArray().ToArray();
            Assert.Equal(restOutputs.Length, outputs.Length);
            for (var i = 0; i < restOutputs.Length; i++)
            {
                var size = restOutputs[i].GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
                Assert.Equal(restOutputs[i].GetProperty("name").GetString(), outputs[i].GetProperty("name").GetString());
                Assert.Equal(V2Requests.Shape(restOutputs[i]), outputs[i].GetProperty("shape").EnumerateArray().Select(d => long.Parse(d.GetString()!)).ToArray());
                Assert.True(binary.AsSpan(offset, size).SequenceEqual(raw[i]), $"{sample}: output {i} differs from REST");
                offset += size;
            }
        }
    }

    [Fact]
    public async Task Credentials_Roles_AndBadInput_GetTheirCodes()
    {
        var (_, viewer, _) = await AuthApi.UserAsync(fixture.Server, "node-viewer", "viewer");
        var sample = ReferenceModels.Load("identity", 0);
        var noCredentials = InferCall(sample, "x");
        noCredentials["metadata"] = new JsonObject();
        var badInput = InferCall(sample, fixture.Server.AccessToken);
        badInput["request"]!["inputs"]![0]!["datatype"] = "INT64";
        var unknownModel = InferCall(sample, fixture.Server.AccessToken);
        unknownModel["request"]!["model_name"] = "nope";
        var results = await RunAsync(
        [
            noCredentials,
            InferCall(sample, viewer),
            badInput,
            unknownModel,
            new JsonObject { ["method"] = "ServerLive" },
        ]);
        Assert.Equal(16, results[0].GetProperty("code").GetInt32()); // UNAUTHENTICATED
        Assert.Equal(7, results[1].GetProperty("code").GetInt32()); // PERMISSION_DENIED
        Assert.Equal(3, results[2].GetProperty("code").GetInt32()); // INVALID_ARGUMENT
        Assert.Contains("datatype INT64", results[2].GetProperty("details").GetString());
        Assert.Equal(5, results[3].GetProperty("code").GetInt32()); // NOT_FOUND
        Assert.True(results[4].GetProperty("response").GetProperty("live").GetBoolean());
    }
}
