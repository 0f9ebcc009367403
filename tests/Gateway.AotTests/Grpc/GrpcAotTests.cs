using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Gateway.Grpc.V2;
using Gateway.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Gateway.AotTests.Grpc;

/// <summary>
/// The V2 gRPC service in the Native-AOT binary (where trimming could break protobuf or the gRPC
/// server's method binding): every reference sample answers the same bytes as REST binary,
/// typed contents parse, and credentials and bad input get their codes without hurting the process.
/// </summary>
public class GrpcAotTests
{
    [Fact]
    public async Task ReferenceSamples_AuthAndBadInput_ThroughTheAotBinary()
    {
        var repository = ReferenceModels.CreateRepository(ReferenceModels.Names);
        var grpcPort = FreePort.Next();
        await using var gateway = AotGateway.Start(repository, new Dictionary<string, string> { ["Grpc__Port"] = grpcPort.ToString(CultureInfo.InvariantCulture) });
        await gateway.WaitReadyAsync();
        var token = gateway.Client.DefaultRequestHeaders.Authorization!.Parameter!;
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var client = new GRPCInferenceService.GRPCInferenceServiceClient(channel);
        var auth = new Metadata { { "authorization", "Bearer " + token } };

        Assert.True((await client.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.True((await client.ServerReadyAsync(new ServerReadyRequest())).Ready);
        var metadata = await client.ModelMetadataAsync(new ModelMetadataRequest { Name = "mobilenet_v2" }, auth);
        Assert.Equal("FP32", metadata.Inputs[0].Datatype);

        foreach (var row in ReferenceModels.AllSamples())
        {
            var sample = ReferenceModels.Load((string)row[0], (int)row[1]);
            var request = new ModelInferRequest { ModelName = sample.Model, Id = sample.ToString() };
            for (var i = 0; i < sample.Inputs.Length; i++)
            {
                var input = new ModelInferRequest.Types.InferInputTensor { Name = sample.InputNames[i], Datatype = sample.Inputs[i].DataType };
                input.Shape.AddRange(sample.Inputs[i].Shape);
                request.Inputs.Add(input);
                request.RawInputContents.Add(ByteString.CopyFrom(sample.Inputs[i].Data));
            }

            var response = await client.ModelInferAsync(request, auth);
            Assert.Equal(sample.ToString(), response.Id);

            var header = Encoding.UTF8.GetBytes(V2Requests.BinaryHeader(sample));
            var content = new ByteArrayContent(header.Concat(sample.Inputs.SelectMany(i => i.Data)).ToArray());
            content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(CultureInfo.InvariantCulture));
            using var rest = await gateway.Client.PostAsync($"/v2/models/{sample.Model}/infer", content);
            var bytes = await rest.Content.ReadAsByteArrayAsync();
            var jsonLength = int.Parse(rest.Headers.GetValues("Inference-Header-Content-Length").Single(), CultureInfo.InvariantCulture);
            using var json = JsonDocument.Parse(bytes.AsMemory(0, jsonLength));
            var offset = jsonLength;
            var outputs = json.RootElement.GetProperty("outputs").EnumerateArray().ToArray();
            Assert.Equal(outputs.Length, response.RawOutputContents.Count);
            for (var i = 0; i < outputs.Length; i++)
            {
                var size = outputs[i].GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
                Assert.True(bytes.AsSpan(offset, size).SequenceEqual(response.RawOutputContents[i].Span), $"{sample}: output {i} differs from REST");
                offset += size;
            }

            var reference = response.Outputs.ToList().FindIndex(o => o.Name == sample.OutputName);
            var values = ReferenceModels.Values(response.Outputs[reference].Datatype, response.RawOutputContents[reference].Span);
            Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), values), 0, ReferenceModels.Tolerance);
        }

        // Typed contents (protobuf's repeated fields) as well as raw.
        var typed = new ModelInferRequest { ModelName = "identity" };
        var tensor = new ModelInferRequest.Types.InferInputTensor { Name = "INPUT0", Datatype = "FP32", Shape = { 1, 16 }, Contents = new InferTensorContents() };
        tensor.Contents.Fp32Contents.AddRange(Enumerable.Range(0, 16).Select(i => i * 0.5f));
        typed.Inputs.Add(tensor);
        var echoed = await client.ModelInferAsync(typed, auth);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => i * 0.5f), MemoryMarshal.Cast<byte, float>(echoed.RawOutputContents[0].Span).ToArray());

        var anonymous = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(typed).ResponseAsync);
        Assert.Equal(StatusCode.Unauthenticated, anonymous.StatusCode);
        tensor.Datatype = "INT32";
        var bad = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(typed, auth).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, bad.StatusCode);
        typed.ModelName = "nope";
        var unknown = await Assert.ThrowsAsync<RpcException>(() => client.ModelInferAsync(typed, auth).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.False(gateway.Process.HasExited);
    }
}
