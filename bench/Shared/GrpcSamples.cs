using Gateway.Grpc.V2;
using Google.Protobuf;

namespace Gateway.Perf;

/// <summary>
/// A sample as a gRPC <c>ModelInferRequest</c> with <c>raw_input_contents</c>, as Triton's and
/// KServe's clients send it. Compiled into the benchmarks (against the gateway's own generated
/// types) and into the load runner (against its client stubs from the same proto file).
/// </summary>
internal static class GrpcSamples
{
    public static ModelInferRequest Request(Sample sample, string? model = null)
    {
        var request = new ModelInferRequest { ModelName = model ?? sample.Model };
        foreach (var input in sample.Inputs)
        {
            var tensor = new ModelInferRequest.Types.InferInputTensor { Name = input.Name, Datatype = input.DataType };
            tensor.Shape.AddRange(input.Shape);
            request.Inputs.Add(tensor);
            request.RawInputContents.Add(ByteString.CopyFrom(input.Data));
        }

        return request;
    }
}
