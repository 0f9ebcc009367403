using System.Text.Json;
using System.Text.Json.Serialization;
using Gateway.Auth;
using Gateway.Documentation;
using Gateway.Repository;

namespace Gateway.Protocol;

/// <summary>One row of <c>POST /v2/repository/index</c>, shaped as Triton's.</summary>
internal sealed class RepositoryIndexEntry
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("version")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Version { get; init; }

    [JsonPropertyName("state")]
    public required string State { get; init; }

    [JsonPropertyName("reason")]
    public required string Reason { get; init; }
}

/// <summary>Body of <c>POST /v2/repository/index</c>.</summary>
internal sealed class RepositoryIndexRequest
{
    [JsonPropertyName("ready")]
    public bool Ready { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<RepositoryIndexEntry>))]
[JsonSerializable(typeof(RepositoryIndexRequest))]
internal sealed partial class RepositoryJsonContext : JsonSerializerContext;

/// <summary>
/// Triton's model repository extension: the index, and load/unload of a model by name.
/// Loading an already served model reloads it atomically from disk.
/// </summary>
internal static class RepositoryEndpoints
{
    public static void MapRepository(this IEndpointRouteBuilder app)
    {
        var repository = app.ServiceProvider.GetRequiredService<ModelRepository>();

        app.MapPost("/v2/repository/index", async context =>
        {
            var readyOnly = false;
            if (context.Request.ContentLength is > 0 || context.Request.Headers.TransferEncoding.Count > 0)
            {
                try
                {
                    var body = await JsonSerializer.DeserializeAsync(context.Request.Body, RepositoryJsonContext.Default.RepositoryIndexRequest, context.RequestAborted);
                    readyOnly = body?.Ready ?? false;
                }
                catch (JsonException ex)
                {
                    await HttpErrors.WriteAsync(context, StatusCodes.Status400BadRequest, "malformed JSON: " + ex.Message);
                    return;
                }
            }

            var rows = new List<RepositoryIndexEntry>();
            foreach (var status in repository.Index())
            {
                if (readyOnly && status.State != ModelState.Ready)
                {
                    continue;
                }

                rows.Add(new RepositoryIndexEntry
                {
                    Name = status.Name,
                    Version = status.Version,
                    State = StateName(status.State),
                    Reason = status.Reason,
                });
            }

            context.Response.ContentType = "application/json";
            await JsonSerializer.SerializeAsync(context.Response.Body, rows, RepositoryJsonContext.Default.ListRepositoryIndexEntry, context.RequestAborted);
        }).Declare(
            Permission.ReadMetadata,
            "repository index",
            new("repositoryIndex", "repository", "Repository index", "Every model directory with its state (READY, LOADING, UNAVAILABLE) and reason.",
                Replies.JsonBody<RepositoryIndexRequest>("Optional; {\"ready\": true} lists only ready models.", required: false),
                Reply.Json<List<RepositoryIndexEntry>>(200, "The index."), Reply.Error(400, "Malformed JSON body.")));

        app.MapPost("/v2/repository/models/{model}/load", async context =>
        {
            var name = (string)context.Request.RouteValues["model"]!;
            var result = await repository.LoadModelAsync(name, context.RequestAborted);
            await WriteResultAsync(context, result);
        }).Declare(
            Permission.ControlModels,
            "load or reload a model",
            new("repositoryLoad", "repository", "Load or reload a model", "Loads the model from disk, or atomically replaces a served one; requests in flight finish on the old one.",
                Reply.Json<EmptyResponse>(200, "Loaded."), Reply.Error(400, "The model failed to load (bad config.json, config.pbtxt or model file); the message says why."), Reply.Error(404, "No such model directory.")));

        app.MapPost("/v2/repository/models/{model}/unload", async context =>
        {
            var name = (string)context.Request.RouteValues["model"]!;
            var result = await repository.UnloadModelAsync(name, context.RequestAborted);
            await WriteResultAsync(context, result);
        }).Declare(
            Permission.ControlModels,
            "unload a model",
            new("repositoryUnload", "repository", "Unload a model", "Stops serving the model once the requests holding it finish.",
                Reply.Json<EmptyResponse>(200, "Unloaded."), Reply.Error(404, "Unknown model.")));
    }

    /// <summary>Triton's name for a model's state in the index.</summary>
    public static string StateName(ModelState state) => state switch
    {
        ModelState.Ready => "READY",
        ModelState.Loading => "LOADING",
        _ => "UNAVAILABLE",
    };

    private static Task WriteResultAsync(HttpContext context, RepositoryResult result)
    {
        if (result.Error is not null)
        {
            return HttpErrors.WriteAsync(context, result.StatusCode, result.Error);
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = 2;
        return context.Response.Body.WriteAsync("{}"u8.ToArray(), context.RequestAborted).AsTask();
    }
}
