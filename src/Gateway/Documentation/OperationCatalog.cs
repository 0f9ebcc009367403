using Gateway.Auth;
using Gateway.Protocol;
using Gateway.Repository;

namespace Gateway.Documentation;

/// <summary>One content type of a body: JSON of a type, or text or bytes described in words.</summary>
internal sealed record Media(string ContentType, Type? Json, string? Format = null, string? Description = null)
{
    public static Media JsonOf<T>() => new("application/json", typeof(T));

    public static Media Text(string contentType, string description) => new(contentType, null, null, description);

    public static Media Bytes(string description) => new("application/octet-stream", null, "binary", description);
}

/// <summary>A response or request header.</summary>
internal sealed record HeaderSpec(string Name, string Description, bool Integer = false);

/// <summary>One status an operation can answer.</summary>
internal sealed record Reply(int Status, string Description, Media[] Content, HeaderSpec[] Headers)
{
    /// <summary>A success without a body.</summary>
    public static Reply Empty(int status, string description, params HeaderSpec[] headers) => new(status, description, [], headers);

    /// <summary>A success with a JSON body of <typeparamref name="T"/>.</summary>
    public static Reply Json<T>(int status, string description) => new(status, description, [Media.JsonOf<T>()], []);

    /// <summary>An error: always <c>{"error": "..."}</c>.</summary>
    public static Reply Error(int status, string description, params HeaderSpec[] headers) => new(status, description, [Media.JsonOf<ErrorResponse>()], headers);
}

/// <summary>A request body.</summary>
internal sealed record BodySpec(bool Required, string Description, params Media[] Content);

/// <summary>What the document says about one endpoint beyond its method, path and access, which come from the endpoint itself.</summary>
internal sealed record OperationSpec(string Id, string Tag, string Summary, string Description, BodySpec? Body, HeaderSpec[] RequestHeaders, Reply[] Replies);

/// <summary>
/// The descriptions of the gateway's endpoints, keyed by method and route pattern exactly as they
/// are mapped. The document is built from the mapped endpoints (<see cref="EndpointDocumentTransformer"/>):
/// an endpoint missing here is still listed, with its access and the generic answers, and a test
/// fails until it is described; an entry here for an endpoint that is not mapped is never shown.
/// </summary>
internal static class OperationCatalog
{
    public const string InferHeaderLength = InferHandler.HeaderContentLength;

    /// <summary>Tags in the order the docs page shows them, with what they group.</summary>
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

    private static readonly HeaderSpec ServerTimingHeader = new("Server-Timing", "queue;dur=…, compute;dur=…, total;dur=… in milliseconds.");
    private static readonly HeaderSpec InferLengthHeader = new(InferHeaderLength, "Length in bytes of the JSON part of the body; the binary tensor data follows it.", Integer: true);
    private static readonly HeaderSpec RetryAfterHeader = new("Retry-After", "Seconds to wait before retrying.", Integer: true);

    /// <summary>Every identity operation needs the store (docs/RUNBOOK.md, "Dependencies").</summary>
    private static readonly Reply StoreDown = Reply.Error(503, "The identity store is unreachable; tokens already issued keep working for inference.", RetryAfterHeader);

    private static readonly Reply[] ModelErrors =
    [
        Reply.Error(404, "Unknown model, or a version that is not served."),
        Reply.Error(503, "The model is known but not available (loading, failed to load, unloaded); the reason is in the body."),
    ];

    private static readonly Reply BadId = Reply.Error(400, "The id is not a positive integer.");

    private static Reply TooLarge(string limit) => Reply.Error(413, $"The body is over {limit}.");

    private static Reply BadBody(string what) => Reply.Error(400, $"Empty, malformed or unknown-field JSON body, or {what}; the message says which field.");

    private static BodySpec JsonBody<T>(string description, bool required = true) => new(required, description, Media.JsonOf<T>());

    private static readonly OperationSpec[] Specs =
    [
        // Health (open).
        new("v2Live", "health", "Server liveness (KServe V2)", "200 while the process runs.", null, [],
            [Reply.Empty(200, "The server is live.")]),
        new("v2Ready", "health", "Server readiness (KServe V2)", "200 once the start-up load has finished and every dependency is ready.", null, [],
            [Reply.Empty(200, "Ready to serve."), Reply.Error(503, "Not ready; the reason is in the body.")]),
        new("healthLive", "health", "Liveness probe", "For Kubernetes' liveness probe: only what a restart would fix.", null, [],
            [new(200, "Live.", [Media.Text("text/plain", "Healthy")], []), new(503, "Not live.", [Media.Text("text/plain", "Unhealthy")], [])]),
        new("healthReady", "health", "Readiness probe", "For Kubernetes' readiness probe: models loaded and responding, the identity store and the revocation feed reachable.", null, [],
            [new(200, "Ready.", [Media.Text("text/plain", "Healthy or Degraded")], []), new(503, "Not ready.", [Media.Text("text/plain", "Unhealthy")], [])]),

        // Observability (privileged).
        new("healthDetails", "observability", "Detailed health view", "Every health check with its status, timing and data.", null, [],
            [Reply.Json<HealthDetailsResponse>(200, "Healthy or degraded."), Reply.Json<HealthDetailsResponse>(503, "Unhealthy: at least one check failed.")]),
        new("metrics", "observability", "Prometheus metrics",
            "The Prometheus text exposition format. With Telemetry:Metrics:Url set, served only on that management listener (404 here); its access is Telemetry:Metrics:RequiredRole.", null, [],
            [new(200, "The metrics.", [Media.Text("text/plain", "Prometheus text format 0.0.4.")], [])]),

        // Inference: metadata, readiness, configuration.
        new("serverMetadata", "inference", "Server metadata", "Name, version and the protocol extensions implemented.", null, [],
            [Reply.Json<ServerMetadataResponse>(200, "Server metadata.")]),
        new("modelMetadata", "inference", "Model metadata", "The highest served version's inputs and outputs; -1 marks a variable dimension.", null, [],
            [Reply.Json<ModelMetadataResponse>(200, "Model metadata."), .. ModelErrors]),
        new("modelVersionMetadata", "inference", "Model version metadata", "One version's inputs and outputs; -1 marks a variable dimension.", null, [],
            [Reply.Json<ModelMetadataResponse>(200, "Model metadata."), .. ModelErrors]),
        new("modelReady", "inference", "Model readiness", "200 when the model is served.", null, [],
            [Reply.Empty(200, "Served."), .. ModelErrors]),
        new("modelVersionReady", "inference", "Model version readiness", "200 when that version is served.", null, [],
            [Reply.Empty(200, "Served."), .. ModelErrors]),
        new("modelConfig", "inference", "Model configuration", "The configuration served: config.json or config.pbtxt completed from the model file, as JSON (model_configuration extension).", null, [],
            [Reply.Json<ModelConfig>(200, "The configuration."), .. ModelErrors]),
        new("modelVersionConfig", "inference", "Model version configuration", "The configuration of that version (model_configuration extension).", null, [],
            [Reply.Json<ModelConfig>(200, "The configuration."), .. ModelErrors]),
        Infer("modelInfer", "Inference", "Runs the highest served version."),
        Infer("modelVersionInfer", "Inference on a version", "Runs that version."),

        // Repository.
        new("repositoryIndex", "repository", "Repository index", "Every model directory with its state (READY, LOADING, UNAVAILABLE) and reason.",
            JsonBody<RepositoryIndexRequest>("Optional; {\"ready\": true} lists only ready models.", required: false), [],
            [Reply.Json<List<RepositoryIndexEntry>>(200, "The index."), Reply.Error(400, "Malformed JSON body.")]),
        new("repositoryLoad", "repository", "Load or reload a model", "Loads the model from disk, or atomically replaces a served one; requests in flight finish on the old one.", null, [],
            [Reply.Json<EmptyResponse>(200, "Loaded."), Reply.Error(400, "The model failed to load (bad config.json, config.pbtxt or model file); the message says why."), Reply.Error(404, "No such model directory.")]),
        new("repositoryUnload", "repository", "Unload a model", "Stops serving the model once the requests holding it finish.", null, [],
            [Reply.Json<EmptyResponse>(200, "Unloaded."), Reply.Error(404, "Unknown model.")]),

        // Statistics.
        new("allStatistics", "statistics", "Statistics of every model", "Counts and cumulative times per model version, batch sizes, rejections.", null, [],
            [Reply.Json<StatisticsResponse>(200, "Statistics.")]),
        new("modelStatistics", "statistics", "Statistics of a model", "Every served version of the model.", null, [],
            [Reply.Json<StatisticsResponse>(200, "Statistics."), .. ModelErrors]),
        new("modelVersionStatistics", "statistics", "Statistics of a model version", "One version.", null, [],
            [Reply.Json<StatisticsResponse>(200, "Statistics."), .. ModelErrors]),

        // Auth.
        new("login", "auth", "Log in", "Answers an access token (a JWT, Auth:AccessTokenMinutes) and a refresh token (Auth:RefreshTokenDays). A wrong name or password answers the same message in the same time.",
            JsonBody<LoginRequest>("Username and password."), [],
            [Reply.Json<TokenResponse>(200, "Tokens."), BadBody("a missing username or password"), Reply.Error(401, "Wrong username or password."),
             Reply.Error(403, "The account is disabled."), TooLarge("Auth:MaxBodyBytes (16 KiB)"), Reply.Error(429, "Too many failed attempts for the account or from the address (failures are limited, not attempts; docs/AUTH.md).", RetryAfterHeader), StoreDown]),
        new("refresh", "auth", "Refresh tokens", "Spends the refresh token (the token is the credential) and answers a new pair, never past the session's absolute lifetime (Auth:SessionDays). A spent token presented again revokes its whole session.",
            JsonBody<RefreshRequest>("The refresh token."), [],
            [Reply.Json<TokenResponse>(200, "New tokens."), BadBody("a missing refresh_token"), Reply.Error(401, "Unknown, expired, revoked or reused refresh token."), TooLarge("Auth:MaxBodyBytes (16 KiB)"), StoreDown]),
        new("logout", "auth", "Log out", "Revokes the access token and its session's refresh tokens, on every replica.",
            JsonBody<LogoutRequest>("Optional; a refresh token of the same session to revoke too.", required: false), [],
            [Reply.Empty(204, "Logged out."), BadBody("an API key instead of an access token"), TooLarge("Auth:MaxBodyBytes (16 KiB)"), StoreDown]),

        // Users.
        new("me", "users", "The caller's account", "The user behind the access token.", null, [],
            [Reply.Json<UserResponse>(200, "The account."), Reply.Error(400, "The credential is an API key, not a user."), Reply.Error(404, "The user no longer exists."), StoreDown]),
        new("changePassword", "users", "Change the caller's password", "Every session of the user ends.",
            JsonBody<ChangePasswordRequest>("The current and the new password (8 to 72 bytes of UTF-8)."), [],
            [Reply.Empty(204, "Changed."), BadBody("a new password that is too short or too long, or an API key"), Reply.Error(403, "current_password is wrong."), TooLarge("Auth:MaxBodyBytes (16 KiB)"),
             Reply.Error(429, "Too many failed attempts for the account or from the address, as for logins.", RetryAfterHeader), StoreDown]),
        new("listUsers", "users", "List users", "Every user, never a password hash.", null, [],
            [Reply.Json<UserListResponse>(200, "The users."), StoreDown]),
        new("createUser", "users", "Create a user", "Roles: viewer, worker, supervisor, admin.",
            JsonBody<CreateUserRequest>("Username, password and role."), [],
            [Reply.Json<UserResponse>(201, "Created."), BadBody("a bad username, password or role"), Reply.Error(409, "A user of that name exists."), TooLarge("Auth:MaxBodyBytes (16 KiB)"), StoreDown]),
        new("getUser", "users", "Read a user", "One user.", null, [],
            [Reply.Json<UserResponse>(200, "The user."), BadId, Reply.Error(404, "No user with that id."), StoreDown]),
        new("updateUser", "users", "Change a user", "Any of role, password and disabled; any change ends the user's sessions.",
            JsonBody<UpdateUserRequest>("The fields to change."), [],
            [Reply.Json<UserResponse>(200, "The changed user."), BadBody("nothing to change, or a bad role or password"), Reply.Error(404, "No user with that id."),
             Reply.Error(409, "The last active admin cannot be demoted or disabled."), TooLarge("Auth:MaxBodyBytes (16 KiB)"), StoreDown]),
        new("deleteUser", "users", "Delete a user", "Its sessions end and its name is free again.", null, [],
            [Reply.Empty(204, "Deleted."), BadId, Reply.Error(404, "No user with that id."), Reply.Error(409, "The last active admin cannot be deleted."), StoreDown]),

        // Keys.
        new("listKeys", "keys", "List API keys", "Every key without its secret.", null, [],
            [Reply.Json<KeyListResponse>(200, "The keys."), StoreDown]),
        new("createKey", "keys", "Create an API key", "The answer's key field is the only time the key is shown; it is stored as a hash.",
            JsonBody<CreateKeyRequest>("Name, role and an optional rate limit."), [],
            [Reply.Json<KeyResponse>(201, "Created, with the key."), BadBody("a missing name, a bad role or rate limit"), TooLarge("Auth:MaxBodyBytes (16 KiB)"), StoreDown]),
        new("revokeKey", "keys", "Revoke an API key", "The key stops working on every replica.", null, [],
            [Reply.Empty(204, "Revoked."), BadId, Reply.Error(404, "No live key with that id."), StoreDown]),

        // Documentation.
        new("openApiDocument", "documentation", "This OpenAPI document", "Generated from the endpoints the server maps; it describes, it serves no model data, so it is open.", null, [],
            [new(200, "The document.", [new("application/json", null, null, "An OpenAPI 3.1 document.")], [])]),
        new("docsPage", "documentation", "Interactive API documentation", "A self-contained page that lists the operations of /openapi/v1.json and can send requests.", null, [],
            [new(200, "The page.", [Media.Text("text/html", "HTML")], [])]),
    ];

    private static readonly Dictionary<string, OperationSpec> ById = Index();

    /// <summary>Method and route pattern of each described operation (the mapping is in <see cref="Routes"/>).</summary>
    public static readonly (string Method, string Pattern, string Id)[] Routes =
    [
        ("GET", "/v2/health/live", "v2Live"),
        ("GET", "/v2/health/ready", "v2Ready"),
        ("GET", "/health/live", "healthLive"),
        ("GET", "/health/ready", "healthReady"),
        ("GET", "/health/details", "healthDetails"),
        ("GET", "/metrics", "metrics"),
        ("GET", "/v2", "serverMetadata"),
        ("GET", "/v2/models/{model}", "modelMetadata"),
        ("GET", "/v2/models/{model}/versions/{version}", "modelVersionMetadata"),
        ("GET", "/v2/models/{model}/ready", "modelReady"),
        ("GET", "/v2/models/{model}/versions/{version}/ready", "modelVersionReady"),
        ("GET", "/v2/models/{model}/config", "modelConfig"),
        ("GET", "/v2/models/{model}/versions/{version}/config", "modelVersionConfig"),
        ("POST", "/v2/models/{model}/infer", "modelInfer"),
        ("POST", "/v2/models/{model}/versions/{version}/infer", "modelVersionInfer"),
        ("POST", "/v2/repository/index", "repositoryIndex"),
        ("POST", "/v2/repository/models/{model}/load", "repositoryLoad"),
        ("POST", "/v2/repository/models/{model}/unload", "repositoryUnload"),
        ("GET", "/v2/models/stats", "allStatistics"),
        ("GET", "/v2/models/{model}/stats", "modelStatistics"),
        ("GET", "/v2/models/{model}/versions/{version}/stats", "modelVersionStatistics"),
        ("POST", "/v1/auth/login", "login"),
        ("POST", "/v1/auth/refresh", "refresh"),
        ("POST", "/v1/auth/logout", "logout"),
        ("GET", "/v1/users/me", "me"),
        ("POST", "/v1/users/me/password", "changePassword"),
        ("GET", "/v1/users", "listUsers"),
        ("POST", "/v1/users", "createUser"),
        ("GET", "/v1/users/{id}", "getUser"),
        ("PATCH", "/v1/users/{id}", "updateUser"),
        ("DELETE", "/v1/users/{id}", "deleteUser"),
        ("GET", "/v1/keys", "listKeys"),
        ("POST", "/v1/keys", "createKey"),
        ("DELETE", "/v1/keys/{id}", "revokeKey"),
        ("GET", ApiDocumentation.DocumentPath, "openApiDocument"),
        ("GET", ApiDocumentation.PagePath, "docsPage"),
    ];

    /// <summary>The description of an endpoint, or null when it has none.</summary>
    public static OperationSpec? Find(string method, string pattern)
    {
        foreach (var (m, p, id) in Routes)
        {
            if (string.Equals(m, method, StringComparison.OrdinalIgnoreCase) && string.Equals(p, pattern, StringComparison.Ordinal))
            {
                return ById[id];
            }
        }

        return null;
    }

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

    private static OperationSpec Infer(string id, string summary, string which) => new(
        id, "inference", summary,
        which + " A JSON body is an infer request. With the binary tensor extension the body is the JSON header followed by the tensors' raw bytes " +
        $"(little-endian, row-major; BYTES elements as a 4-byte length and the bytes), and {InferHeaderLength} gives the header's length. " +
        "The caller needs worker or higher and, when the model's config.json has an access list, to be on it.",
        new BodySpec(true, "An infer request: JSON, or a JSON header and binary tensors.",
            Media.JsonOf<InferRequestBody>(),
            Media.Bytes($"The JSON header ({InferHeaderLength} bytes, an InferRequestBody) followed by each binary input's binary_data_size bytes, in the order the inputs appear.")),
        [InferLengthHeader with { Description = "Required with binary input: the length of the JSON header at the start of the body." }],
        [
            new(200, "The outputs. application/octet-stream when any output is binary (the JSON header, then the bytes).",
                [Media.JsonOf<InferResponseBody>(), Media.Bytes($"The JSON header ({InferHeaderLength} bytes, an InferResponseBody) followed by each binary output's binary_data_size bytes.")],
                [ServerTimingHeader, InferLengthHeader with { Description = "Present when the body is binary: the length of its JSON header." }]),
            Reply.Error(400, "Malformed JSON; unknown, missing or repeated input; datatype, shape or element count not matching; bad binary framing; a value the model refuses."),
            Reply.Error(403, "The model's access list does not include the caller."),
            Reply.Error(404, "Unknown model, or a version that is not served."),
            Reply.Error(413, "The body is over Gateway:MaxRequestBodyBytes."),
            Reply.Error(429, "The model's queue is full (max_queue_size).", RetryAfterHeader),
            Reply.Error(500, "The backend failed on a valid request; the log has the details."),
            Reply.Error(503, "The model is known but not available; the reason is in the body."),
            Reply.Error(504, "The request's deadline (timeout or default_timeout_microseconds) passed while it was queued; it was not executed."),
        ]);

    private static Dictionary<string, OperationSpec> Index()
    {
        var index = new Dictionary<string, OperationSpec>(StringComparer.Ordinal);
        foreach (var spec in Specs)
        {
            index.Add(spec.Id, spec);
        }

        return index;
    }
}
