using System.Text;

namespace Gateway.Auth;

/// <summary>Who may call an endpoint: no one but open endpoints skips credentials.</summary>
internal enum Access
{
    /// <summary>No credentials needed (probes, login, refresh).</summary>
    Open,
    Viewer,
    Worker,
    Supervisor,
    Admin,

    /// <summary>The role configured as <c>Auth:PrivilegedRole</c> (default supervisor): metrics and detailed health.</summary>
    Privileged,
}

/// <summary>One row of the permission matrix.</summary>
internal sealed record PermissionRow(string Method, string Pattern, Access Access, string What);

/// <summary>
/// The permission matrix: every endpoint the gateway maps, with the least role that may call it.
/// This is the one table; <c>docs/AUTH.md</c> holds the same table (a test compares them) and a
/// test checks that every mapped endpoint declares exactly the access written here. Endpoints
/// declare access with <see cref="EndpointAccessExtensions.RequireRole{TBuilder}"/>,
/// <see cref="EndpointAccessExtensions.AllowOpen{TBuilder}"/> or
/// <see cref="EndpointAccessExtensions.RequirePrivileged{TBuilder}"/>; one that declares nothing
/// is denied to everyone.
/// </summary>
internal static class PermissionMatrix
{
    public static readonly PermissionRow[] Rows =
    [
        new("GET", "/v2/health/live", Access.Open, "liveness (KServe V2)"),
        new("GET", "/v2/health/ready", Access.Open, "readiness (KServe V2)"),
        new("GET", "/health/live", Access.Open, "liveness"),
        new("GET", "/health/ready", Access.Open, "readiness"),
        new("GET", "/health/details", Access.Privileged, "detailed health view"),
        new("GET", "/metrics", Access.Privileged, "Prometheus metrics"),
        new("GET", "/v2", Access.Viewer, "server metadata"),
        new("GET", "/v2/models/{model}", Access.Viewer, "model metadata"),
        new("GET", "/v2/models/{model}/versions/{version}", Access.Viewer, "model version metadata"),
        new("GET", "/v2/models/{model}/ready", Access.Viewer, "model readiness"),
        new("GET", "/v2/models/{model}/versions/{version}/ready", Access.Viewer, "model version readiness"),
        new("GET", "/v2/models/{model}/config", Access.Viewer, "model configuration"),
        new("GET", "/v2/models/{model}/versions/{version}/config", Access.Viewer, "model version configuration"),
        new("POST", "/v2/models/{model}/infer", Access.Worker, "inference (and the model's access list)"),
        new("POST", "/v2/models/{model}/versions/{version}/infer", Access.Worker, "inference on a version (and the model's access list)"),
        new("POST", "/v2/repository/index", Access.Viewer, "repository index"),
        new("POST", "/v2/repository/models/{model}/load", Access.Supervisor, "load or reload a model"),
        new("POST", "/v2/repository/models/{model}/unload", Access.Supervisor, "unload a model"),
        new("GET", "/v2/models/stats", Access.Supervisor, "usage statistics of every model"),
        new("GET", "/v2/models/{model}/stats", Access.Supervisor, "usage statistics of a model"),
        new("GET", "/v2/models/{model}/versions/{version}/stats", Access.Supervisor, "usage statistics of a model version"),
        new("POST", "/v1/auth/login", Access.Open, "log in: access and refresh token"),
        new("POST", "/v1/auth/refresh", Access.Open, "rotate a refresh token (the token is the credential)"),
        new("POST", "/v1/auth/logout", Access.Viewer, "end the session of the access token"),
        new("GET", "/v1/users/me", Access.Viewer, "the caller's own account"),
        new("POST", "/v1/users/me/password", Access.Viewer, "change the caller's own password"),
        new("GET", "/v1/users", Access.Admin, "list users"),
        new("POST", "/v1/users", Access.Admin, "create a user"),
        new("GET", "/v1/users/{id}", Access.Admin, "read a user"),
        new("PATCH", "/v1/users/{id}", Access.Admin, "change a user's role, password or disabled flag"),
        new("DELETE", "/v1/users/{id}", Access.Admin, "delete a user (revokes its sessions)"),
        new("GET", "/v1/keys", Access.Admin, "list API keys"),
        new("POST", "/v1/keys", Access.Admin, "create an API key (shown once)"),
        new("DELETE", "/v1/keys/{id}", Access.Admin, "revoke an API key"),
        new("GET", "/openapi/v1.json", Access.Open, "the OpenAPI document (describes; lists no models, users or keys)"),
        new("GET", "/docs", Access.Open, "interactive API documentation (renders /openapi/v1.json)"),
        new("POST", "/inference.GRPCInferenceService/ServerLive", Access.Open, "gRPC liveness (with Grpc:Port)"),
        new("POST", "/inference.GRPCInferenceService/ServerReady", Access.Open, "gRPC readiness"),
        new("POST", "/inference.GRPCInferenceService/ModelReady", Access.Viewer, "gRPC model readiness"),
        new("POST", "/inference.GRPCInferenceService/ServerMetadata", Access.Viewer, "gRPC server metadata"),
        new("POST", "/inference.GRPCInferenceService/ModelMetadata", Access.Viewer, "gRPC model metadata"),
        new("POST", "/inference.GRPCInferenceService/ModelInfer", Access.Worker, "gRPC inference (and the model's access list)"),
        new("POST", "/inference.GRPCInferenceService/RepositoryIndex", Access.Viewer, "gRPC repository index"),
        new("POST", "/inference.GRPCInferenceService/RepositoryModelLoad", Access.Supervisor, "gRPC load or reload a model"),
        new("POST", "/inference.GRPCInferenceService/RepositoryModelUnload", Access.Supervisor, "gRPC unload a model"),
        new("*", "(any other path)", Access.Open, "404 with {\"error\"}"),
    ];

    /// <summary>The access a role needs, resolving <see cref="Access.Privileged"/>.</summary>
    public static Role MinimumRole(Access access, Role privileged) => access switch
    {
        Access.Viewer => Role.Viewer,
        Access.Worker => Role.Worker,
        Access.Supervisor => Role.Supervisor,
        Access.Admin => Role.Admin,
        Access.Privileged => privileged,
        _ => Role.None,
    };

    /// <summary>The markdown table written in <c>docs/AUTH.md</c>.</summary>
    public static string ToMarkdown()
    {
        var text = new StringBuilder();
        text.Append("| method | path | open | viewer | worker | supervisor | admin | what |\n");
        text.Append("|---|---|---|---|---|---|---|---|\n");
        foreach (var row in Rows)
        {
            text.Append("| ").Append(row.Method).Append(" | `").Append(row.Pattern).Append("` | ");
            for (var role = Role.None; role <= Role.Admin; role++)
            {
                text.Append(Cell(row.Access, role)).Append(" | ");
            }

            text.Append(row.What.Replace("|", "\\|", StringComparison.Ordinal)).Append(" |\n");
        }

        return text.ToString();
    }

    private static string Cell(Access access, Role role) => access switch
    {
        Access.Open => "yes",
        Access.Privileged => role == Role.None ? "no" : role >= Role.Supervisor ? "yes*" : "no*",
        _ => role != Role.None && role >= MinimumRole(access, Role.Admin) ? "yes" : "no",
    };
}
