using System.Diagnostics;
using System.Globalization;
using Gateway.Abstractions;
using Gateway.Auth;
using Gateway.Grpc.V2;
using Gateway.Hosting;
using Gateway.Protocol;
using ModelMetadataResponse = Gateway.Grpc.V2.ModelMetadataResponse;
using RepositoryIndexRequest = Gateway.Grpc.V2.RepositoryIndexRequest;
using ServerMetadataResponse = Gateway.Grpc.V2.ServerMetadataResponse;
using Gateway.Repository;
using Gateway.Scheduling;
using Gateway.Telemetry;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.ObjectPool;

namespace Gateway.Grpc;

/// <summary>
/// <c>inference.GRPCInferenceService</c>: the Open Inference Protocol over gRPC, on the same
/// repository, scheduler, telemetry and access rules as the REST endpoints. Authentication, roles
/// and rate limits have run before a method is reached (the auth middleware reads the
/// <c>authorization</c> or <c>x-api-key</c> metadata, which are HTTP/2 headers); a method answers
/// with an <see cref="RpcException"/> whose code maps the REST status (<see cref="GrpcStatusMap"/>).
/// One instance serves every call (a singleton in the container: see <see cref="GrpcSetup"/>).
/// </summary>
internal sealed partial class InferenceService : GrpcBinding.ServiceBase
{
    private static readonly Task<ServerLiveResponse> s_live = Task.FromResult(new ServerLiveResponse { Live = true });
    private static readonly Task<RepositoryModelLoadResponse> s_loaded = Task.FromResult(new RepositoryModelLoadResponse());

    private readonly ModelRepository _repository;
    private readonly IReadinessCheck[] _readiness;
    private readonly ObjectPool<InferRequest> _pool;
    private readonly TimeProvider _time;
    private readonly ILogger<InferenceService> _logger;
    private readonly ServerMetadataResponse _serverMetadata;

    public InferenceService(ModelRepository repository, IEnumerable<IReadinessCheck> readiness, TimeProvider time, ILogger<InferenceService> logger)
    {
        _repository = repository;
        _readiness = readiness.ToArray();
        _time = time;
        _logger = logger;
        _pool = new DefaultObjectPool<InferRequest>(new RequestPolicy(), Environment.ProcessorCount * 16);
        _serverMetadata = new ServerMetadataResponse { Name = V2Endpoints.ServerName, Version = V2Endpoints.ServerVersion };
        _serverMetadata.Extensions.AddRange(V2Endpoints.Extensions);
    }

    public override Task<ServerLiveResponse> ServerLive(ServerLiveRequest request, ServerCallContext context) => s_live;

    public override Task<ServerReadyResponse> ServerReady(ServerReadyRequest request, ServerCallContext context)
    {
        var ready = _repository.IsReady;
        foreach (var check in _readiness)
        {
            ready &= check.NotReadyReason is null;
        }

        return Task.FromResult(new ServerReadyResponse { Ready = ready });
    }

    public override Task<ModelReadyResponse> ModelReady(ModelReadyRequest request, ServerCallContext context) =>
        Task.FromResult(new ModelReadyResponse { Ready = ModelRoute.TryResolve(_repository, request.Name, request.Version, out _, out _, out _) });

    public override Task<ServerMetadataResponse> ServerMetadata(ServerMetadataRequest request, ServerCallContext context) => Task.FromResult(_serverMetadata);

    public override Task<ModelMetadataResponse> ModelMetadata(ModelMetadataRequest request, ServerCallContext context)
    {
        if (!ModelRoute.TryResolve(_repository, request.Name, request.Version, out var model, out var status, out var message))
        {
            throw Error(status, message);
        }

        var served = _repository.Models[model.Name];
        var response = new ModelMetadataResponse { Name = model.Name, Platform = model.Platform };
        foreach (var version in served.Versions)
        {
            response.Versions.Add(version.VersionText);
        }

        AddTensors(response.Inputs, model.Signature.Inputs);
        AddTensors(response.Outputs, model.Signature.Outputs);
        return Task.FromResult(response);
    }

    public override async Task<ModelInferResponse> ModelInfer(ModelInferRequest message, ServerCallContext context)
    {
        var started = _time.GetTimestamp();
        var http = context.GetHttpContext();
        if (!ModelRoute.TryAcquire(_repository, message.ModelName, message.ModelVersion, out var model, out var status, out var error))
        {
            message.ReturnPooled();
            throw Error(status, error);
        }

        var request = _pool.Get();
        WorkItem? item = null;
        try
        {
            if (model.Definition.Access is { } access && !access.Allows(http.GetCaller()))
            {
                throw new RpcException(new Status(StatusCode.PermissionDenied, $"model '{model.Name}' is restricted by its access list, which does not include this caller"));
            }

            request.Start(model);
            var parseError = GrpcRequestReader.Read(message, request) ?? InferHandler.CheckPriority(request, model);
            if (parseError is not null)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, parseError));
            }

            ApplyDeadline(request, context.Deadline);
            var scheduler = model.Scheduler;
            var telemetry = model.Telemetry;
            telemetry?.TagServerSpan();
            // The call's token is cancelled when the client cancels, the connection drops or the
            // gRPC deadline passes; the scheduler then drops the request from its queue.
            item = scheduler.Submit(request, context.CancellationToken);
            var outcome = await item.Completion;
            var now = _time.GetTimestamp();
            if (telemetry is not null && GatewayTelemetry.Source.HasListeners())
            {
                telemetry.TraceQueue(item, outcome, now, _time);
            }

            telemetry?.Completed(item, outcome, started, now, _time);
            switch (outcome)
            {
                case OutcomeStatus.Succeeded:
                    return GrpcResponseWriter.Write(message, request, item.Outputs!);
                case OutcomeStatus.Failed:
                    var runError = item.Error!.Value;
                    Log.RunFailed(_logger, model.Name, model.VersionText, runError.Message);
                    throw new RpcException(new Status(GrpcStatusMap.ForBackend(runError.Kind), $"model '{model.Name}' version {model.VersionText} failed: {runError.Message}"));
                case OutcomeStatus.QueueFull:
                    throw new RpcException(
                        new Status(StatusCode.ResourceExhausted, $"model '{model.Name}' has {scheduler.Policy.MaxQueueSize} requests queued, its max_queue_size; retry later"),
                        new Metadata { { "retry-after", scheduler.RetryAfterSeconds().ToString(CultureInfo.InvariantCulture) } });
                case OutcomeStatus.DeadlineExceeded:
                    throw new RpcException(new Status(StatusCode.DeadlineExceeded,
                        $"the request's deadline passed while it waited in the queue of model '{model.Name}'; it was not executed"));
                default:
                    // The client cancelled or its deadline passed: gRPC answers (or not) on its own.
                    throw new RpcException(new Status(
                        context.Deadline <= DateTime.UtcNow ? StatusCode.DeadlineExceeded : StatusCode.Cancelled, "the call was cancelled while it waited in the queue"));
            }
        }
        catch (Exception ex) when (ex is not RpcException && !context.CancellationToken.IsCancellationRequested)
        {
            if (Activity.Current is { IsAllDataRequested: true } span)
            {
                span.AddException(ex);
                span.SetStatus(ActivityStatusCode.Error, "unexpected error");
            }

            Log.Unexpected(_logger, ex, model.Name);
            throw new RpcException(new Status(StatusCode.Internal, "internal error while serving the request; see the server log"));
        }
        finally
        {
            if (item is not null)
            {
                await model.Scheduler.ReleaseAsync(item);
            }

            _pool.Return(request);
            // The raw inputs' pooled memory (ModelInferRequestReader), read by the backend until
            // the scheduler released the request above.
            message.ReturnPooled();
            model.Release();
        }
    }

    public override Task<RepositoryIndexResponse> RepositoryIndex(RepositoryIndexRequest request, ServerCallContext context)
    {
        var response = new RepositoryIndexResponse();
        foreach (var status in _repository.Index())
        {
            if (request.Ready && status.State != ModelState.Ready)
            {
                continue;
            }

            response.Models.Add(new RepositoryIndexResponse.Types.ModelIndex
            {
                Name = status.Name,
                Version = status.Version ?? string.Empty,
                State = RepositoryEndpoints.StateName(status.State),
                Reason = status.Reason,
            });
        }

        return Task.FromResult(response);
    }

    public override async Task<RepositoryModelLoadResponse> RepositoryModelLoad(RepositoryModelLoadRequest request, ServerCallContext context)
    {
        Check(await _repository.LoadModelAsync(request.ModelName, context.CancellationToken));
        return await s_loaded;
    }

    public override async Task<RepositoryModelUnloadResponse> RepositoryModelUnload(RepositoryModelUnloadRequest request, ServerCallContext context)
    {
        Check(await _repository.UnloadModelAsync(request.ModelName, context.CancellationToken));
        return new RepositoryModelUnloadResponse();
    }

    /// <summary>
    /// The gRPC deadline becomes the request's scheduling timeout (the shorter of it and a
    /// <c>timeout</c> parameter), so a request whose caller will no longer wait is never executed.
    /// </summary>
    internal static void ApplyDeadline(InferRequest request, DateTime deadline)
    {
        if (deadline == DateTime.MaxValue)
        {
            return;
        }

        var left = (deadline - DateTime.UtcNow).Ticks / (TimeSpan.TicksPerMillisecond / 1000);
        var micros = (ulong)Math.Clamp(left, 1, (long)InferRequest.MaxTimeoutMicroseconds);
        if (request.TimeoutMicroseconds == 0 || micros < request.TimeoutMicroseconds)
        {
            request.TimeoutMicroseconds = micros;
        }
    }

    private static void Check(RepositoryResult result)
    {
        if (result.Error is not null)
        {
            throw Error(result.StatusCode, result.Error);
        }
    }

    private static RpcException Error(int status, string message) => new(new Status(GrpcStatusMap.FromHttp(status), message));

    private static void AddTensors(Google.Protobuf.Collections.RepeatedField<ModelMetadataResponse.Types.TensorMetadata> target, IReadOnlyList<TensorSpec> specs)
    {
        foreach (var spec in specs)
        {
            var tensor = new ModelMetadataResponse.Types.TensorMetadata { Name = spec.Name, Datatype = spec.DataType.Name() };
            tensor.Shape.AddRange(spec.Shape.ToArray());
            target.Add(tensor);
        }
    }

    /// <summary>Pool policy: a request's rented arrays go back when it is returned.</summary>
    private sealed class RequestPolicy : PooledObjectPolicy<InferRequest>
    {
        public override InferRequest Create() => new();

        public override bool Return(InferRequest request)
        {
            request.Reset();
            return true;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(210, LogLevel.Warning, "Model {Model} version {Version} failed to run (gRPC): {Reason}")]
        public static partial void RunFailed(ILogger logger, string model, string version, string reason);

        [LoggerMessage(211, LogLevel.Error, "Unexpected error serving a gRPC infer request for model {Model}")]
        public static partial void Unexpected(ILogger logger, Exception exception, string model);
    }
}
