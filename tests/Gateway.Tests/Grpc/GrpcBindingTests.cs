using System.Buffers;
using Gateway.Grpc.V2;
using Gateway.Hosting;
using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Routing;

namespace Gateway.Tests.Grpc;

/// <summary>
/// Grpc.AspNetCore takes the gateway's binding (GrpcBinding), not the generated one: the host's
/// ModelInfer endpoint reads raw inputs into pooled memory, and every other method is still bound.
/// </summary>
public class GrpcBindingTests
{
    [Fact]
    public async Task HostsModelInferEndpoint_UsesThePooledReader_AndBindsEveryMethod()
    {
        var repository = Directory.CreateTempSubdirectory("gateway-binding-").FullName;
        try
        {
            await using var app = GatewayHost.Build(["--urls", "http://127.0.0.1:0", "--Grpc:Port", "50051", "--model-repository", repository]);
            var methods = ((IEndpointRouteBuilder)app).DataSources.SelectMany(static d => d.Endpoints)
                .Select(static e => e.Metadata.GetMetadata<GrpcMethodMetadata>()?.Method)
                .OfType<IMethod>()
                .Where(static m => m.ServiceName == "inference.GRPCInferenceService")
                .ToList();
            Assert.Equal(
                ["ModelInfer", "ModelMetadata", "ModelReady", "RepositoryIndex", "RepositoryModelLoad", "RepositoryModelUnload", "ServerLive", "ServerMetadata", "ServerReady"],
                methods.Select(static m => m.Name).Distinct().Order(StringComparer.Ordinal));

            var infer = Assert.IsType<Method<ModelInferRequest, ModelInferResponse>>(methods.First(static m => m.Name == "ModelInfer"));
            var request = new ModelInferRequest { ModelName = "identity" };
            request.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "INPUT0", Datatype = "FP32", Shape = { 1, 16 } });
            request.RawInputContents.Add(ByteString.CopyFrom(new byte[64]));
            var message = infer.RequestMarshaller.ContextualDeserializer(new Payload(request.ToByteArray()));
            Assert.Equal(request, message);
            Assert.True(message.IsPooled);
            message.ReturnPooled();
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    private sealed class Payload(byte[] bytes) : DeserializationContext
    {
        public override int PayloadLength => bytes.Length;

        public override byte[] PayloadAsNewBuffer() => bytes.ToArray();

        public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(bytes);
    }
}
