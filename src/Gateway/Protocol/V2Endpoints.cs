using System.Reflection;
using System.Text.Json;
using Gateway.Auth;
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
        }).AllowOpen();

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
        }).AllowOpen();

        app.MapGet("/v2", context => WriteJson(context, serverMetadata)).RequireRole(Role.Viewer);

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
        app.MapGet("/v2/models/{model}", metadata).RequireRole(Role.Viewer);
        app.MapGet("/v2/models/{model}/versions/{version}", metadata).RequireRole(Role.Viewer);

        RequestDelegate ready = context => ModelRoute.TryResolve(context, repository, out _, out var status, out var message)
            ? WriteEmpty(context)
            : HttpErrors.WriteAsync(context, status, message);
        app.MapGet("/v2/models/{model}/ready", ready).RequireRole(Role.Viewer);
        app.MapGet("/v2/models/{model}/versions/{version}/ready", ready).RequireRole(Role.Viewer);

        RequestDelegate config = context =>
        {
            if (!ModelRoute.TryResolve(context, repository, out var model, out var status, out var message))
            {
                return HttpErrors.WriteAsync(context, status, message);
            }

            return WriteJson(context, model.ConfigJson);
        };
        app.MapGet("/v2/models/{model}/config", config).RequireRole(Role.Viewer);
        app.MapGet("/v2/models/{model}/versions/{version}/config", config).RequireRole(Role.Viewer);

        app.MapPost("/v2/models/{model}/infer", infer.HandleAsync).RequireRole(Role.Worker);
        app.MapPost("/v2/models/{model}/versions/{version}/infer", infer.HandleAsync).RequireRole(Role.Worker);
    }

    /// <summary>The gateway's version (informational version without the commit).</summary>
    public static string ServerVersion =>
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
