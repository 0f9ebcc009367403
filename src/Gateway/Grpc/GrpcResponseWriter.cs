using Gateway.Abstractions;
using Gateway.Grpc.V2;
using Gateway.Protocol;
using Google.Protobuf;

namespace Gateway.Grpc;

/// <summary>
/// Builds a <see cref="ModelInferResponse"/> from a finished request: every output's bytes in
/// <c>raw_output_contents</c>, as Triton answers, copied once out of the backend's memory (which
/// is released when the call returns, before gRPC serialises the message).
/// </summary>
internal static class GrpcResponseWriter
{
    public static ModelInferResponse Write(ModelInferRequest message, InferRequest request, RunOutputs outputs)
    {
        var model = request.Model;
        var response = new ModelInferResponse
        {
            ModelName = model.Name,
            ModelVersion = model.VersionText,
            Id = message.Id,
        };
        for (var i = 0; i < request.OutputCount; i++)
        {
            var tensor = new ModelInferResponse.Types.InferOutputTensor
            {
                Name = model.Signature.Outputs[request.Outputs[i]].Name,
                Datatype = outputs.GetDataType(i).Name(),
            };
            foreach (var dim in outputs.GetShape(i).Dims)
            {
                tensor.Shape.Add(dim);
            }

            response.Outputs.Add(tensor);
            response.RawOutputContents.Add(ByteString.CopyFrom(outputs.GetData(i)));
        }

        return response;
    }
}
