using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Torch;

/// <summary>A model's backend is its config's <c>backend</c> and nothing else.</summary>
[Trait("Category", "Torch")]
public class BackendSwapTests
{
    [Theory]
    [InlineData("add_sub")]
    [InlineData("mobilenet_v2")]
    public async Task FlippingTheConfig_ServesTheOtherBackend_WithTheSameOutputs(string model)
    {
        // One version directory holds model.onnx and model.pt; config.json picks the backend.
        var repository = TorchModels.CreateRepository("onnx", model);
        try
        {
            var sample = ReferenceModels.Load(model, 1);
            await using var server = await GatewayServer.StartAsync(repository);
            var (platform, onnx) = await AskAsync(server, model, sample);
            Assert.Equal("onnxruntime_onnx", platform);

            // Flip the config and reload through the repository API: the same server, the other backend.
            TorchModels.WriteModel(repository, model, "torch");
            await ReloadAsync(server, model);
            var (flipped, torch) = await AskAsync(server, model, sample);
            Assert.Equal("pytorch_libtorch", flipped);

            TorchModels.WriteModel(repository, model, "onnx");
            await ReloadAsync(server, model);
            var (back, again) = await AskAsync(server, model, sample);
            Assert.Equal("onnxruntime_onnx", back);

            Assert.Equal(onnx.Keys.Order(), torch.Keys.Order());
            foreach (var (name, (shape, values)) in onnx)
            {
                Assert.Equal(shape, torch[name].Shape);
                Assert.InRange(ReferenceModels.MaxAbsDiff(values, torch[name].Values), 0, ReferenceModels.Tolerance);
                Assert.Equal(values, again[name].Values);
            }
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    private static async Task ReloadAsync(GatewayServer server, string model)
    {
        using var response = await server.PostJsonAsync($"/v2/repository/models/{model}/load", string.Empty);
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Reads the served platform and asks once.</summary>
    private static async Task<(string Platform, Dictionary<string, (long[] Shape, double[] Values)> Outputs)> AskAsync(GatewayServer server, string model, Sample sample)
    {
        using var metadata = JsonDocument.Parse(await server.Client.GetStringAsync($"/v2/models/{model}"));
        using var response = await server.PostBinaryAsync(
            $"/v2/models/{model}/infer", V2Requests.BinaryHeader(sample), sample.Inputs.Select(i => i.Data).ToArray());
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        return (metadata.RootElement.GetProperty("platform").GetString()!, await TorchServingTests.ReadOutputsAsync(response));
    }
}
