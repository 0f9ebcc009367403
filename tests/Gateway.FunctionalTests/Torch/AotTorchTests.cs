using System.Net;
using Gateway.Testing;
using Xunit.Abstractions;

namespace Gateway.FunctionalTests.Torch;

/// <summary>
/// The published Native-AOT binary with the Torch backend: it loads libtorch from beside itself,
/// answers every reference sample, and its resident memory stays flat over 10,000 requests.
/// </summary>
[Trait("Category", "Torch")]
public class AotTorchTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AotBinary_AnswersEveryReferenceSample()
    {
        var repository = TorchModels.CreateRepository("torch", ReferenceModels.Names);
        try
        {
            await using var gateway = await AotTorchGateway.StartAsync(repository);
            foreach (var args in ReferenceModels.AllSamples())
            {
                var sample = ReferenceModels.Load((string)args[0], (int)args[1]);
                using var response = await gateway.Client.PostAsync(
                    $"/v2/models/{sample.Model}/infer", BinaryContent(V2Requests.BinaryHeader(sample), sample.Inputs.Select(i => i.Data).ToArray()));
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{sample}: {await response.Content.ReadAsStringAsync()}");
                var (shape, values) = (await TorchServingTests.ReadOutputsAsync(response))[sample.OutputName];
                Assert.Equal(sample.Output.Shape, shape);
                Assert.True(ReferenceModels.MaxAbsDiff(sample.Output.Values(), values) <= ReferenceModels.Tolerance, $"{sample} differs from the reference");
            }
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    [Fact]
    public async Task AotBinary_TenThousandRequests_KeepResidentMemoryFlat()
    {
        // 64 KiB outputs: a leaked output tensor per request would add 640 MB over the run.
        const int Warmup = 1_000;
        const int Requests = 10_000;
        const long Allowed = 48L * 1024 * 1024;
        var repository = TorchModels.CreateRepository("torch", "identity", "add_sub");
        try
        {
            await using var gateway = await AotTorchGateway.StartAsync(repository);
            var rows = 1024;
            var floats = new byte[rows * 16 * 4];
            Random.Shared.NextBytes(floats);
            for (var i = 0; i < floats.Length; i += 4)
            {
                floats[i + 3] &= 0x3F; // finite values
            }

            var ints = new byte[rows * 16 * 4];
            Random.Shared.NextBytes(ints);
            var identity = $$$"""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[{{{rows}}},16],"parameters":{"binary_data_size":{{{floats.Length}}}}}],"parameters":{"binary_data_output":true}}""";
            // Only OUTPUT1 is asked for: the unrequested OUTPUT0 must be freed too.
            var addSub = $$$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[{{{rows}}},16],"parameters":{"binary_data_size":{{{ints.Length}}}}},{"name":"INPUT1","datatype":"INT32","shape":[{{{rows}}},16],"parameters":{"binary_data_size":{{{ints.Length}}}}}],"outputs":[{"name":"OUTPUT1","parameters":{"binary_data":true}}]}""";

            async Task SendAsync(int count)
            {
                for (var i = 0; i < count; i++)
                {
                    using var response = i % 2 == 0
                        ? await gateway.Client.PostAsync("/v2/models/identity/infer", BinaryContent(identity, floats))
                        : await gateway.Client.PostAsync("/v2/models/add_sub/infer", BinaryContent(addSub, ints, ints));
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    var body = await response.Content.ReadAsByteArrayAsync();
                    Assert.True(body.Length > floats.Length);
                }
            }

            await SendAsync(Warmup);
            var before = gateway.ResidentBytes();
            await SendAsync(Requests);
            var after = gateway.ResidentBytes();
            output.WriteLine($"VmRSS after {Warmup} warm-up requests: {before / 1048576.0:F1} MiB; after {Requests} more: {after / 1048576.0:F1} MiB");
            Assert.True(after - before < Allowed, $"resident memory grew from {before / 1048576} MiB to {after / 1048576} MiB over {Requests} requests");
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    private static ByteArrayContent BinaryContent(string json, params byte[][] tensors)
    {
        var header = System.Text.Encoding.UTF8.GetBytes(json);
        var body = new byte[header.Length + tensors.Sum(t => t.Length)];
        header.CopyTo(body, 0);
        var offset = header.Length;
        foreach (var tensor in tensors)
        {
            tensor.CopyTo(body, offset);
            offset += tensor.Length;
        }

        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return content;
    }
}
