using System.Reflection;
using System.Text.Json;
using Gateway.Auth;
using Gateway.Documentation;
using Gateway.Hosting;
using Gateway.Repository;

namespace Gateway.Protocol;

/// <summary>
/// The Open Inference Protocol's REST endpoints (KServe V2) with Triton's binary tensor data
/// and model configuration extensions.
/// </summary>
internal static class V2Endpoints
{
    /// <summary>Extensions listed by <c>GET /v2</c>: only what is implemented.</summary>
    public static readonly string[] Extensions = ["binary_tensor_data", "model_configuration", "model_repository", "schedule_policy", "statistics"];

    /// <summary>The server's name in server metadata (REST and gRPC).</summary>
    public const string ServerName = "inference-gateway";

    public static void MapV2(this IEndpointRouteBuilder app)
    {
        var repository = app.ServiceProvider.GetRequiredService<ModelRepository>();
        var infer = app.ServiceProvider.GetRequiredService<InferHandler>();
        var readiness = app.ServiceProvider.GetServices<IReadinessCheck>().ToArray();
        var serverMetadata = JsonSerializer.SerializeToUtf8Bytes(
            new ServerMetadataResponse { Name = ServerName, Version = ServerVersion, Extensions = Extensions },
            V2JsonContext.Default.ServerMetadataResponse);

        app.MapGet("/v2/health/live", static context =>
        {
            context.Response.StatusCode = StatusCodes.Status200OK;
            return Task.CompletedTask;
        }).Declare(
            EndpointAccess.Open,
            "liveness (KServe V2)",
            new("v2Live", "health", "Server liveness (KServe V2)", "200 while the process runs.", Reply.Empty(200, "The server is live.")));

        app.MapGet("/v2/health/ready", context =>
        {
            if (!repository.IsReady)
            {
                return HttpErrors.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, repository.NotReadyReason);
            }

            foreach (var check in readiness)
            {
                if (check.NotReadyReason is { } reason)
                {
                    return HttpErrors.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, reason);
                }
            }

            return WriteEmpty(context);
        }).Declare(
            EndpointAccess.Open,
            "readiness (KServe V2)",
            new("v2Ready", "health", "Server readiness (KServe V2)", "200 once the start-up load has finished and every dependency is ready.",
                Reply.Empty(200, "Ready to serve."), Reply.Error(503, "Not ready; the reason is in the body.")));

        app.MapGet("/v2", context => WriteJson(context, serverMetadata)).Declare(
            Permission.ReadMetadata,
            "server metadata",
            new("serverMetadata", "inference", "Server metadata", "Name, version and the protocol extensions implemented.",
                Reply.Json<ServerMetadataResponse>(200, "Server metadata.")));

        RequestDelegate metadata = context =>
        {
            if (!ModelRoute.TryResolve(context, repository, out var model, out var status, out var message))
            {
                return HttpErrors.WriteAsync(context, status, message);
            }

            var served = repository.Models[model.Name];
            if (context.Request.RouteValues.ContainsKey("version") && served.TryGetVersion(model.Version, out _, out var index))
            {
                return WriteJson(context, served.VersionMetadataJson[index]);
            }

            return WriteJson(context, served.MetadataJson);
        };
        app.MapGet("/v2/models/{model}", metadata).Declare(
            Permission.ReadMetadata,
            "model metadata",
            new("modelMetadata", "inference", "Model metadata", "The highest served version's inputs and outputs; -1 marks a variable dimension.",
                [Reply.Json<ModelMetadataResponse>(200, "Model metadata."), .. Replies.ModelErrors]));
        app.MapGet("/v2/models/{model}/versions/{version}", metadata).Declare(
            Permission.ReadMetadata,
            "model version metadata",
            new("modelVersionMetadata", "inference", "Model version metadata", "One version's inputs and outputs; -1 marks a variable dimension.",
                [Reply.Json<ModelMetadataResponse>(200, "Model metadata."), .. Replies.ModelErrors]));

        RequestDelegate ready = context => ModelRoute.TryResolve(context, repository, out _, out var status, out var message)
            ? WriteEmpty(context)
            : HttpErrors.WriteAsync(context, status, message);
        app.MapGet("/v2/models/{model}/ready", ready).Declare(
            Permission.ReadMetadata,
            "model readiness",
            new("modelReady", "inference", "Model readiness", "200 when the model is served.", [Reply.Empty(200, "Served."), .. Replies.ModelErrors]));
        app.MapGet("/v2/models/{model}/versions/{version}/ready", ready).Declare(
            Permission.ReadMetadata,
            "model version readiness",
            new("modelVersionReady", "inference", "Model version readiness", "200 when that version is served.", [Reply.Empty(200, "Served."), .. Replies.ModelErrors]));

        RequestDelegate config = context =>
        {
            if (!ModelRoute.TryResolve(context, repository, out var model, out var status, out var message))
            {
                return HttpErrors.WriteAsync(context, status, message);
            }

            return WriteJson(context, model.ConfigJson);
        };
        app.MapGet("/v2/models/{model}/config", config).Declare(
            Permission.ReadMetadata,
            "model configuration",
            new("modelConfig", "inference", "Model configuration", "The configuration served: config.json or config.pbtxt completed from the model file, as JSON (model_configuration extension).",
                [Reply.Json<ModelConfig>(200, "The configuration."), .. Replies.ModelErrors]));
        app.MapGet("/v2/models/{model}/versions/{version}/config", config).Declare(
            Permission.ReadMetadata,
            "model version configuration",
            new("modelVersionConfig", "inference", "Model version configuration", "The configuration of that version (model_configuration extension).",
                [Reply.Json<ModelConfig>(200, "The configuration."), .. Replies.ModelErrors]));

        app.MapPost("/v2/models/{model}/infer", infer.HandleAsync)
            .Declare(Permission.Infer, "inference (and the model's access list)", InferOperation("modelInfer", "Inference", "Runs the highest served version."));
        app.MapPost("/v2/models/{model}/versions/{version}/infer", infer.HandleAsync)
            .Declare(Permission.Infer, "inference on a version (and the model's access list)", InferOperation("modelVersionInfer", "Inference on a version", "Runs that version."));
    }

    /// <summary>The two infer routes' operation: JSON, or a JSON header and binary tensors (Triton's extension).</summary>
    private static OperationSpec InferOperation(string id, string summary, string which)
    {
        const string Length = InferHandler.HeaderContentLength;
        var lengthHeader = new HeaderSpec(Length, "Length in bytes of the JSON part of the body; the binary tensor data follows it.", Integer: true);
        return new(
            id, "inference", summary,
            which + " A JSON body is an infer request. With the binary tensor extension the body is the JSON header followed by the tensors' raw bytes " +
            $"(little-endian, row-major; BYTES elements as a 4-byte length and the bytes), and {Length} gives the header's length. " +
            "The caller needs worker or higher and, when the model's config.json has an access list, to be on it.",
            new BodySpec(true, "An infer request: JSON, or a JSON header and binary tensors.",
                Media.JsonOf<InferRequestBody>(),
                Media.Bytes($"The JSON header ({Length} bytes, an InferRequestBody) followed by each binary input's binary_data_size bytes, in the order the inputs appear.")),
            [lengthHeader with { Description = "Required with binary input: the length of the JSON header at the start of the body." }],
            [
                new(200, "The outputs. application/octet-stream when any output is binary (the JSON header, then the bytes).",
                    [Media.JsonOf<InferResponseBody>(), Media.Bytes($"The JSON header ({Length} bytes, an InferResponseBody) followed by each binary output's binary_data_size bytes.")],
                    [new HeaderSpec("Server-Timing", "queue;dur=…, compute;dur=…, total;dur=… in milliseconds."), lengthHeader with { Description = "Present when the body is binary: the length of its JSON header." }]),
                Reply.Error(400, "Malformed JSON; unknown, missing or repeated input; datatype, shape or element count not matching; bad binary framing; a value the model refuses."),
                Reply.Error(403, "The model's access list does not include the caller."),
                Reply.Error(404, "Unknown model, or a version that is not served."),
                Reply.Error(413, "The body is over Gateway:MaxRequestBodyBytes."),
                Reply.Error(429, "The model's queue is full (max_queue_size).", Replies.RetryAfterHeader),
                Reply.Error(500, "The backend failed on a valid request; the log has the details."),
                Reply.Error(503, "The model is known but not available; the reason is in the body."),
                Reply.Error(504, "The request's deadline (timeout or default_timeout_microseconds) passed while it was queued; it was not executed."),
            ]);
    }

    /// <summary>
    /// The gateway's version (informational version without the commit), read once: under Native
    /// AOT an attribute lookup decodes the metadata, tens of microseconds each time. The one
    /// version everything states: server metadata, the API document, <c>--version</c>, telemetry.
    /// </summary>
    public static readonly string ServerVersion =
        typeof(V2Endpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    private static Task WriteEmpty(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        return Task.CompletedTask;
    }

    private static Task WriteJson(HttpContext context, byte[] body)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }
}
