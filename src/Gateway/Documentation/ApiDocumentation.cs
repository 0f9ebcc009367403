using System.ComponentModel;
using System.Reflection;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Gateway.Auth;
using Gateway.Protocol;
using Gateway.Repository;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Gateway.Documentation;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c> (Microsoft.AspNetCore.OpenApi, with the paths
/// written by <see cref="EndpointDocumentTransformer"/> from the mapped endpoints) and the
/// interactive page at <c>/docs</c> (<see cref="DocsPage"/>). Both are open: they describe the
/// API and list no models, users or keys.
/// </summary>
internal static class ApiDocumentation
{
    public const string DocumentName = "v1";
    public const string DocumentPath = "/openapi/v1.json";
    public const string PagePath = "/docs";

    /// <summary>Tags in the order the docs page shows them, with what they group (each operation names one: <see cref="OperationSpec.Tag"/>).</summary>
    public static readonly (string Name, string Description)[] Tags =
    [
        ("health", "Probes for load balancers and Kubernetes; open."),
        ("inference", "Server and model metadata, readiness, configuration and inference (Open Inference Protocol, KServe V2 REST, with Triton's binary tensor extension)."),
        ("repository", "Triton's model repository extension: index, load, unload."),
        ("statistics", "Triton's statistics extension: counts and times per model version."),
        ("auth", "Log in, refresh and log out (JWT access tokens, rotating refresh tokens)."),
        ("users", "The caller's account, and user management (admin)."),
        ("keys", "API keys (admin): sent as X-API-Key or Authorization: Bearer."),
        ("observability", "Prometheus metrics and the detailed health view."),
        ("documentation", "This OpenAPI document and the interactive page that renders it."),
    ];

    /// <summary>
    /// Request fields the handlers refuse to go without (400), though the wire types leave them
    /// nullable so that a missing one gets a clear message rather than a parser error.
    /// </summary>
    public static readonly Dictionary<Type, string[]> RequiredFields = new()
    {
        [typeof(LoginRequest)] = ["username", "password"],
        [typeof(RefreshRequest)] = ["refresh_token"],
        [typeof(ChangePasswordRequest)] = ["current_password", "new_password"],
        [typeof(CreateUserRequest)] = ["username", "password", "role"],
        [typeof(CreateKeyRequest)] = ["name", "role"],
    };

    /// <summary>What a route parameter is.</summary>
    public static (string Description, bool Integer) RouteParameter(string name) => name switch
    {
        "model" => ("Model name: its directory in the model repository.", false),
        "version" => ("Model version: a version directory's number.", false),
        "id" => ("Numeric id.", true),
        _ => ("Route value.", false),
    };

    /// <summary>Registers the document generator.</summary>
    public static void AddGatewayDocumentation(this WebApplicationBuilder builder)
    {
        // The generator makes schemas from the JSON metadata of the HTTP JSON options; these are the
        // source-generated contexts the handlers serialise with (so a schema is the type on the
        // wire, unknown-field refusal included), then the shapes written by hand.
        builder.Services.ConfigureHttpJsonOptions(static json =>
        {
            var chain = json.SerializerOptions.TypeInfoResolverChain;
            chain.Add(AuthJsonContext.Default);
            chain.Add(V2JsonContext.Default);
            chain.Add(RepositoryJsonContext.Default);
            chain.Add(StatisticsJsonContext.Default);
            chain.Add(ModelConfigJsonContext.Default);
            chain.Add(DocumentationJsonContext.Default);
            // As the handlers read: numbers are numbers (the web default would also allow "1").
            json.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        builder.Services.AddOpenApi(DocumentName, static options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            // Nothing comes from the API explorer: the transformer writes every path from the endpoints.
            options.ShouldInclude = static _ => false;
            options.AddDocumentTransformer(new EndpointDocumentTransformer());
            options.AddSchemaTransformer(static (schema, context, _) =>
            {
                AdjustSchema(schema, context.JsonTypeInfo, context.JsonPropertyInfo);
                return Task.CompletedTask;
            });
        });
    }

    /// <summary>
    /// Says in the schema what the handlers enforce beyond the type: the auth bodies and model
    /// configuration refuse unknown fields (their contexts disallow unmapped members), and some
    /// nullable request fields are required (<see cref="RequiredFields"/>).
    /// </summary>
    internal static void AdjustSchema(OpenApiSchema schema, JsonTypeInfo type, JsonPropertyInfo? property)
    {
        if (property is not null)
        {
            // The generator leaves out the description of a property it types as any JSON (JsonElement).
            if (schema.Description is null
                && property.AttributeProvider?.GetCustomAttributes(typeof(DescriptionAttribute), inherit: false) is [DescriptionAttribute description, ..])
            {
                schema.Description = description.Description;
            }

            return;
        }

        if (type.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        if (type.OriginatingResolver is AuthJsonContext or ModelConfigJsonContext)
        {
            schema.AdditionalPropertiesAllowed = false;
        }

        if (RequiredFields.TryGetValue(type.Type, out var required))
        {
            schema.Required ??= new HashSet<string>(StringComparer.Ordinal);
            foreach (var name in required)
            {
                schema.Required.Add(name);
                if (schema.Properties?.TryGetValue(name, out var field) == true && field is OpenApiSchema concrete && concrete.Type is { } kind)
                {
                    concrete.Type = kind & ~JsonSchemaType.Null;
                }
            }
        }
    }

    /// <summary>Maps the document and the page, both open.</summary>
    public static void MapGatewayDocumentation(this WebApplication app)
    {
        var document = new CachedDocument(app.Services.GetRequiredKeyedService<IOpenApiDocumentProvider>(DocumentName));
        app.MapGet(DocumentPath, document.WriteAsync).Declare(
            EndpointAccess.Open,
            "the OpenAPI document (describes; lists no models, users or keys)",
            new("openApiDocument", "documentation", "This OpenAPI document", "Generated from the endpoints the server maps; it describes, it serves no model data, so it is open.",
                new Reply(200, "The document.", [new("application/json", null, null, "An OpenAPI 3.1 document.")], [])));
        var page = DocsPage.Load();
        app.MapGet(PagePath, page.WriteAsync).Declare(
            EndpointAccess.Open,
            "interactive API documentation (renders /openapi/v1.json)",
            new("docsPage", "documentation", "Interactive API documentation", "A self-contained page that lists the operations of /openapi/v1.json and can send requests.",
                new Reply(200, "The page.", [Media.Text("text/html", "HTML")], [])));
    }

    /// <summary>
    /// The document, generated on the first request and then served as bytes. PERF: generating
    /// it costs about 7 ms of CPU (the AOT binary, docs/PERFORMANCE.md "API documentation"), and
    /// the endpoint is open and not rate limited, so it is made once: the endpoints and the
    /// settings it reflects are fixed once the server runs.
    /// </summary>
    private sealed class CachedDocument(IOpenApiDocumentProvider provider)
    {
        private Task<byte[]>? _bytes;

        public async Task WriteAsync(HttpContext context)
        {
            var pending = Volatile.Read(ref _bytes);
            if (pending is null || pending.IsFaulted || pending.IsCanceled)
            {
                var fresh = GenerateAsync();
                pending = Interlocked.CompareExchange(ref _bytes, fresh, pending) == pending ? fresh : Volatile.Read(ref _bytes)!;
            }

            var body = await pending;
            var response = context.Response;
            response.StatusCode = StatusCodes.Status200OK;
            response.ContentType = "application/json; charset=utf-8";
            response.ContentLength = body.Length;
            response.Headers.CacheControl = "no-cache";
            await response.Body.WriteAsync(body, context.RequestAborted);
        }

        private async Task<byte[]> GenerateAsync()
        {
            // Not the request's token: a client going away must not spoil the cached document.
            var document = await provider.GetOpenApiDocumentAsync(CancellationToken.None);
            using var buffer = new MemoryStream();
            await document.SerializeAsJsonAsync(buffer, OpenApiSpecVersion.OpenApi3_1, CancellationToken.None);
            return buffer.ToArray();
        }
    }
}
