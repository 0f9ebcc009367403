using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Torch;

/// <summary>
/// The corpus's TorchScript example (<c>tests/fixtures/pbtxt/mlp_torch</c>): a Triton
/// <c>pytorch_libtorch</c> configuration that declares every tensor, since a <c>.pt</c> file names
/// none, served over the mlp fixture's TorchScript file with no <c>config.json</c> beside it.
/// </summary>
[Trait("Category", "Torch")]
public sealed class TritonTorchConfigTests
{
    [Fact]
    public async Task TorchScriptPbtxt_IsServedWithItsDeclaredTensors_AnswersTheReferenceSamplesItsBatchBoundAllows()
    {
        var repository = Directory.CreateTempSubdirectory("gateway-pbtxt-torch-").FullName;
        try
        {
            var version = Path.Combine(repository, "mlp_torch", "1");
            Directory.CreateDirectory(version);
            File.CreateSymbolicLink(Path.Combine(version, "model.pt"), ReferenceModels.ModelFile("mlp", "pt"));
            File.Copy(
                Path.Combine(ReferenceModels.RepositoryRoot, "tests", "fixtures", "pbtxt", "mlp_torch", "config.pbtxt"),
                Path.Combine(repository, "mlp_torch", "config.pbtxt"));
            await using var server = await GatewayServer.StartAsync(repository);

            using (var config = JsonDocument.Parse(await server.Client.GetStringAsync("/v2/models/mlp_torch/config")))
            {
                var root = config.RootElement;
                Assert.Equal("torch", root.GetProperty("backend").GetString());
                Assert.Equal(16, root.GetProperty("max_batch_size").GetInt32());
                Assert.Equal("input", root.GetProperty("input")[0].GetProperty("name").GetString());
                Assert.Equal("logits", root.GetProperty("output")[0].GetProperty("name").GetString());
            }

            // Samples 0-2 (batches of 1, 3 and 8) fit max_batch_size 16; sample 3 (32 rows) must be refused by it.
            for (var k = 0; k < 3; k++)
            {
                var sample = ReferenceModels.Load("mlp", k);
                using var response = await server.PostBinaryAsync(
                    "/v2/models/mlp_torch/infer", V2Requests.BinaryHeader(sample), sample.Inputs.Select(i => i.Data).ToArray());
                Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
                var (json, binary) = await GatewayServer.ReadInferResponseAsync(response);
                var output = V2Requests.Output(json, "logits");
                Assert.Equal(sample.Output.Shape, V2Requests.Shape(output));
                Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), ReferenceModels.Values("FP32", binary)), 0, ReferenceModels.Tolerance);
            }

            var large = ReferenceModels.Load("mlp", 3);
            using (var refused = await server.PostBinaryAsync(
                "/v2/models/mlp_torch/infer", V2Requests.BinaryHeader(large), large.Inputs.Select(i => i.Data).ToArray()))
            {
                Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
                Assert.Contains("max_batch_size 16", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            // A tensor the configuration does not declare is refused with its name, not passed to libtorch.
            using var wrong = await server.PostJsonAsync(
                "/v2/models/mlp_torch/infer",
                """{"inputs":[{"name":"x","datatype":"FP32","shape":[1,784],"data":[]}]}""");
            Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
            Assert.Contains("'x'", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }
}
