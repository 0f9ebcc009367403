using Grpc.Core;
using Gateway.Grpc.V2;

namespace Gateway.Floor;

/// <summary>ModelInfer as an echo: each input comes back as an output of the same type and shape.</summary>
internal sealed class FloorService : GRPCInferenceService.GRPCInferenceServiceBase
{
    public override Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context)
    {
        var response = new ModelInferResponse { ModelName = request.ModelName, Id = request.Id };
        foreach (var input in request.Inputs)
        {
            var output = new ModelInferResponse.Types.InferOutputTensor { Name = "OUTPUT0", Datatype = input.Datatype };
            output.Shape.AddRange(input.Shape);
            response.Outputs.Add(output);
        }

        response.RawOutputContents.AddRange(request.RawInputContents);
        return Task.FromResult(response);
    }

    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerLiveResponse { Live = true });

    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ServerReadyResponse { Ready = true });
}
