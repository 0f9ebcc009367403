using Gateway.Grpc.V2;
using Grpc.Core;
using ModelMetadataResponse = Gateway.Grpc.V2.ModelMetadataResponse;
using RepositoryIndexRequest = Gateway.Grpc.V2.RepositoryIndexRequest;
using ServerMetadataResponse = Gateway.Grpc.V2.ServerMetadataResponse;

namespace Gateway.Grpc;

/// <summary>
/// Binds <see cref="InferenceService"/>'s methods as the generated <c>BindService</c> does, with
/// one difference: <c>ModelInfer</c>'s request is read by <see cref="ModelInferRequestReader"/>
/// (raw contents in pooled memory) rather than by protobuf's generated parser. The generated
/// marshaller is a private field of the generated class, so Grpc.AspNetCore is pointed here by
/// <see cref="ServiceBase"/>'s attribute and the generated binding runs through a binder that
/// swaps that one method's request deserializer.
/// </summary>
internal static class GrpcBinding
{
    /// <summary>Called by Grpc.AspNetCore (through <see cref="BindServiceMethodAttribute"/>) with a null service.</summary>
    public static void BindService(ServiceBinderBase binder, ServiceBase service) =>
        GRPCInferenceService.BindService(new ModelInferBinder(binder), null!);

    /// <summary>ModelInfer with <see cref="ModelInferRequestReader"/> as its request deserializer.</summary>
    internal static Method<ModelInferRequest, ModelInferResponse> WithPooledReader(Method<ModelInferRequest, ModelInferResponse> method) => new(
        method.Type,
        method.ServiceName,
        method.Name,
        new Marshaller<ModelInferRequest>(method.RequestMarshaller.ContextualSerializer, static context => ModelInferRequestReader.Read(context.PayloadAsReadOnlySequence())),
        method.ResponseMarshaller);

    /// <summary>
    /// The service's methods, as the generated base class declares them; the attribute sends
    /// Grpc.AspNetCore to <see cref="BindService"/>, whose second parameter (this type) is the type
    /// it checks the implementations' overrides against.
    /// </summary>
    [BindServiceMethod(typeof(GrpcBinding), nameof(BindService))]
    internal abstract class ServiceBase
    {
        public abstract Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context);

        public abstract Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context);

        public abstract Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context);

        public abstract Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context);

        public abstract Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context);

        public abstract Task<ModelInferResponse> ModelInfer(ModelInferRequest request, ServerCallContext context);

        public abstract Task<RepositoryIndexResponse> RepositoryIndex(RepositoryIndexRequest request, ServerCallContext context);

        public abstract Task<RepositoryModelLoadResponse> RepositoryModelLoad(RepositoryModelLoadRequest request, ServerCallContext context);

        public abstract Task<RepositoryModelUnloadResponse> RepositoryModelUnload(RepositoryModelUnloadRequest request, ServerCallContext context);
    }

    /// <summary>Forwards every method to Grpc.AspNetCore's binder, ModelInfer with the pooled reader.</summary>
    private sealed class ModelInferBinder(ServiceBinderBase inner) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            if (method is Method<ModelInferRequest, ModelInferResponse> infer)
            {
                inner.AddMethod(WithPooledReader(infer), (UnaryServerMethod<ModelInferRequest, ModelInferResponse>?)(object?)handler);
                return;
            }

            inner.AddMethod(method, handler);
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ClientStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, DuplexStreamingServerMethod<TRequest, TResponse>? handler) =>
            inner.AddMethod(method, handler);
    }
}
