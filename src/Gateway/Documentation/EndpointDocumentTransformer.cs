using System.Text.Json.Nodes;
using Gateway.Auth;
using Gateway.Protocol;
using Gateway.RateLimiting;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Gateway.Documentation;

/// <summary>
/// Writes the document's paths from the endpoints the server really maps: every route endpoint
/// (but the catch-all fallback) with each of its methods, and from its declaration
/// (<see cref="EndpointSpec"/>, the metadata <see cref="AuthMiddleware"/> enforces) the access as
/// its security requirement and the operation: its bodies and answers. The generator's own API
/// descriptions are not used: the handlers are <see cref="RequestDelegate"/>s, from which it can
/// infer nothing.
/// </summary>
internal sealed class EndpointDocumentTransformer : IOpenApiDocumentTransformer
{
    public const string BearerScheme = "bearer";
    public const string ApiKeyScheme = "apiKey";

    /// <summary>Extension naming the least role an operation needs (<c>open</c> for none).</summary>
    public const string RoleExtension = "x-required-role";

    public async Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        var services = context.ApplicationServices;
        var auth = services.GetRequiredService<AuthOptions>();
        var limits = services.GetRequiredService<RateLimitOptions>();
        var endpoints = services.GetRequiredService<EndpointDataSource>().Endpoints;

        document.Info = new OpenApiInfo
        {
            Title = "Inference gateway",
            Version = Protocol.V2Endpoints.ServerVersion,
            Description = InfoDescription(auth),
        };
        // No servers: the document is cached, and the request's Host is the caller's to choose;
        // without servers, clients resolve paths against the address they fetched the document from.
        document.Servers = null;
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal)
        {
            [BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "JWT",
                Description = "An access token from POST /v1/auth/login (or /v1/auth/refresh); an API key (gk_…) is accepted here too.",
            },
            [ApiKeyScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = AuthMiddleware.ApiKeyHeader,
                Description = "An API key from POST /v1/keys. Send one credential only: this header or Authorization.",
            },
        };

        document.Tags = new HashSet<OpenApiTag>();
        foreach (var (name, description) in ApiDocumentation.Tags)
        {
            document.Tags.Add(new OpenApiTag { Name = name, Description = description });
        }

        var schemas = new SchemaCache(document, context);
        document.Paths = new OpenApiPaths();
        foreach (var endpoint in endpoints)
        {
            // gRPC methods are described by their proto file (docs/GRPC.md), not by OpenAPI.
            if (endpoint is not RouteEndpoint route || route.RoutePattern.RawText is not { } pattern || IsFallback(route)
                || endpoint.Metadata.GetMetadata<global::Grpc.AspNetCore.Server.GrpcMethodMetadata>() is not null)
            {
                continue;
            }

            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
            if (methods is null)
            {
                continue;
            }

            var path = "/" + pattern.TrimStart('/');
            if (!document.Paths.TryGetValue(path, out var item))
            {
                item = new OpenApiPathItem();
                document.Paths[path] = item;
            }

            foreach (var method in methods)
            {
                var operation = await OperationAsync(document, route, auth, limits, schemas, cancellationToken);
                ((OpenApiPathItem)item).AddOperation(new HttpMethod(method), operation);
            }
        }
    }

    /// <summary>The catch-all that answers 404 for unknown paths: described in the info text, not as an operation.</summary>
    public static bool IsFallback(RouteEndpoint route) =>
        route.RoutePattern.RawText is { } text && text.StartsWith("{*", StringComparison.Ordinal);

    /// <summary>
    /// The least role an endpoint's declaration lets in, as the auth middleware decides it:
    /// <c>open</c>, a role name, or null when it declares nothing (denied to all).
    /// </summary>
    public static string? DeclaredRole(EndpointMetadataCollection metadata, AuthOptions auth) =>
        metadata.GetMetadata<EndpointSpec>()?.Access is not { } access ? null
        : access.Kind switch
        {
            AccessKind.Open => "open",
            AccessKind.Permission => Roles.Least(access.Permission).Name(),
            AccessKind.Role => access.Role.Name(),
            _ => auth.Privileged.Name(),
        };

    private static async Task<OpenApiOperation> OperationAsync(
        OpenApiDocument document, RouteEndpoint route, AuthOptions auth, RateLimitOptions limits, SchemaCache schemas, CancellationToken cancellationToken)
    {
        var declaration = route.Metadata.GetMetadata<EndpointSpec>();
        var spec = declaration?.Operation;
        var role = DeclaredRole(route.Metadata, auth);
        var operation = new OpenApiOperation
        {
            OperationId = spec?.Id,
            Summary = spec?.Summary ?? declaration?.What ?? route.DisplayName,
            Description = spec?.Description,
            Tags = new HashSet<OpenApiTagReference> { new(spec?.Tag ?? "undocumented", document) },
            Parameters = [],
            Responses = [],
            Extensions = new Dictionary<string, IOpenApiExtension>(StringComparer.Ordinal)
            {
                [RoleExtension] = new JsonNodeExtension(JsonValue.Create(role ?? "nobody")),
            },
        };

        foreach (var parameter in route.RoutePattern.Parameters)
        {
            var (description, integer) = ApiDocumentation.RouteParameter(parameter.Name);
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = parameter.Name,
                In = ParameterLocation.Path,
                Required = true,
                Description = description,
                Schema = integer
                    ? new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64", Minimum = "1" }
                    : new OpenApiSchema { Type = JsonSchemaType.String },
            });
        }

        if (spec is not null)
        {
            foreach (var header in spec.RequestHeaders)
            {
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = header.Name,
                    In = ParameterLocation.Header,
                    Description = header.Description,
                    Schema = HeaderSchema(header),
                });
            }

            if (spec.Body is { } body)
            {
                operation.RequestBody = new OpenApiRequestBody
                {
                    Required = body.Required,
                    Description = body.Description,
                    Content = await ContentAsync(body.Content, schemas, cancellationToken),
                };
            }

            foreach (var reply in spec.Replies)
            {
                await AddReplyAsync(operation, reply, schemas, cancellationToken);
            }
        }

        var protectedEndpoint = role != "open";
        if (protectedEndpoint && !auth.Disabled)
        {
            operation.Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] },
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, document)] = [] },
            ];
            await AddReplyAsync(operation, Reply.Error(401, "No credential, or an invalid, expired or revoked one.", new HeaderSpec("WWW-Authenticate", "Bearer")), schemas, cancellationToken);
            await AddReplyAsync(operation, Reply.Error(403, role is null ? "The endpoint declares no access: denied to everyone." : $"The caller's role is below '{role}'."), schemas, cancellationToken);
            if (limits.Enabled && declaration?.Rate == RateClass.Caller)
            {
                await AddReplyAsync(operation, Reply.Error(429, "The caller's rate limit is exhausted (RateLimit-* headers), or too many API keys not seen before came from the caller's address.", new HeaderSpec("Retry-After", "Seconds to wait.", Integer: true)), schemas, cancellationToken);
            }

            await AddReplyAsync(
                operation,
                Reply.Error(
                    503,
                    auth.FailClosed
                        ? "The revocation feed is unreachable, so credentials cannot be checked (Auth:RevocationFailure=closed); or an API key not seen before cannot be looked up while the identity store is down."
                        : "An API key not seen before cannot be looked up while the identity store is down.",
                    new HeaderSpec("Retry-After", "Seconds to wait.", Integer: true)),
                schemas,
                cancellationToken);
        }

        if (operation.Responses.Count == 0)
        {
            operation.Responses["default"] = new OpenApiResponse { Description = "Not described." };
        }

        return operation;
    }

    /// <summary>Adds a reply, merging it into one already there for the same status.</summary>
    private static async Task AddReplyAsync(OpenApiOperation operation, Reply reply, SchemaCache schemas, CancellationToken cancellationToken)
    {
        var status = reply.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (operation.Responses!.TryGetValue(status, out var existing) && existing is OpenApiResponse merged)
        {
            merged.Description = merged.Description + " Or: " + reply.Description;
            foreach (var header in reply.Headers)
            {
                merged.Headers ??= new Dictionary<string, IOpenApiHeader>(StringComparer.OrdinalIgnoreCase);
                merged.Headers.TryAdd(header.Name, new OpenApiHeader { Description = header.Description, Schema = HeaderSchema(header) });
            }

            return;
        }

        var response = new OpenApiResponse { Description = reply.Description };
        if (reply.Content.Length > 0)
        {
            response.Content = await ContentAsync(reply.Content, schemas, cancellationToken);
        }

        if (reply.Headers.Length > 0)
        {
            response.Headers = new Dictionary<string, IOpenApiHeader>(StringComparer.OrdinalIgnoreCase);
            foreach (var header in reply.Headers)
            {
                response.Headers[header.Name] = new OpenApiHeader { Description = header.Description, Schema = HeaderSchema(header) };
            }
        }

        operation.Responses[status] = response;
    }

    private static async Task<Dictionary<string, OpenApiMediaType>> ContentAsync(Media[] media, SchemaCache schemas, CancellationToken cancellationToken)
    {
        var content = new Dictionary<string, OpenApiMediaType>(StringComparer.Ordinal);
        foreach (var item in media)
        {
            IOpenApiSchema schema = item.Json is { } type
                ? await schemas.GetAsync(type, cancellationToken)
                : item.ContentType == "application/json"
                    ? new OpenApiSchema { Type = JsonSchemaType.Object, Description = item.Description }
                    : new OpenApiSchema { Type = JsonSchemaType.String, Format = item.Format, Description = item.Description };
            content[item.ContentType] = new OpenApiMediaType { Schema = schema };
        }

        return content;
    }

    private static OpenApiSchema HeaderSchema(HeaderSpec header) =>
        header.Integer ? new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "0" } : new OpenApiSchema { Type = JsonSchemaType.String };

    private static string InfoDescription(AuthOptions auth) =>
        "A Native-AOT inference gateway speaking the Open Inference Protocol (KServe V2 REST) with Triton's binary tensor, " +
        "model configuration, model repository, schedule policy and statistics extensions.\n\n" +
        (auth.Disabled
            ? "**Authentication is off on this server (Auth:Mode=none): every caller is admin.**\n\n"
            : "Every operation but the open ones needs one credential: `Authorization: Bearer <access token or API key>` or `X-API-Key: <API key>`. " +
              $"Roles, lowest first: {string.Join(", ", Array.ConvertAll(Roles.Table, static row => row.Name))}; each operation's `{RoleExtension}` names the least role it needs " +
              $"(the privileged role, Auth:PrivilegedRole, is '{auth.Privileged.Name()}' here).\n\n") +
        "Every error is `{\"error\": \"...\"}` with the status that fits; a path that no operation matches answers 404 in the same form. " +
        "Every response carries `X-Correlation-ID` (the caller's `X-Correlation-ID` or `X-Request-ID` when well-formed).";

    /// <summary>
    /// Schemas of the described types, made by the generator from their source-generated JSON
    /// metadata and kept once under <c>components/schemas</c>, referenced from each use.
    /// </summary>
    private sealed class SchemaCache(OpenApiDocument document, OpenApiDocumentTransformerContext context)
    {
        private readonly Dictionary<Type, IOpenApiSchema> _schemas = [];

        public async Task<IOpenApiSchema> GetAsync(Type type, CancellationToken cancellationToken)
        {
            if (_schemas.TryGetValue(type, out var known))
            {
                return known;
            }

            var schema = await context.GetOrCreateSchemaAsync(type, null, cancellationToken);
            IOpenApiSchema result = schema;
            if (!type.IsGenericType)
            {
                document.AddComponent<IOpenApiSchema>(type.Name, schema);
                result = new OpenApiSchemaReference(type.Name, document);
            }

            _schemas[type] = result;
            return result;
        }
    }
}
