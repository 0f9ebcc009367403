using Gateway.Documentation;
using Microsoft.AspNetCore.Http.Metadata;

namespace Gateway.Auth;

/// <summary>How an endpoint's access is stated.</summary>
internal enum AccessKind
{
    /// <summary>No credentials needed (probes, login, refresh, the API documentation).</summary>
    Open,

    /// <summary>A caller whose role holds <see cref="EndpointAccess.Permission"/>.</summary>
    Permission,

    /// <summary>A caller whose role holds every permission of <see cref="EndpointAccess.Role"/> (a role named in configuration).</summary>
    Role,

    /// <summary>As <see cref="Role"/>, with the role configured as <c>Auth:PrivilegedRole</c> (metrics, detailed health).</summary>
    Privileged,
}

/// <summary>Which token bucket a call is charged to.</summary>
internal enum RateClass
{
    /// <summary>Not limited: an open endpoint has no caller to charge.</summary>
    None,

    /// <summary>The caller's bucket: its API key's own rule, or its role's (<c>RateLimit:&lt;Role&gt;</c>).</summary>
    Caller,
}

/// <summary>Who may call an endpoint: open, a permission, or every permission of a role.</summary>
internal sealed class EndpointAccess
{
    /// <summary>Anyone, without credentials.</summary>
    public static readonly EndpointAccess Open = new(AccessKind.Open, Permission.None, Role.None);

    /// <summary>The role configured as <c>Auth:PrivilegedRole</c> (default supervisor), or one holding all its permissions.</summary>
    public static readonly EndpointAccess Privileged = new(AccessKind.Privileged, Permission.None, Role.None);

    private EndpointAccess(AccessKind kind, Permission permission, Role role)
    {
        Kind = kind;
        Permission = permission;
        Role = role;
    }

    public AccessKind Kind { get; }

    /// <summary>The permission needed (<see cref="AccessKind.Permission"/> only).</summary>
    public Permission Permission { get; }

    /// <summary>The role whose permissions are needed (<see cref="AccessKind.Role"/> only).</summary>
    public Role Role { get; }

    /// <summary>Callers whose role holds <paramref name="permission"/> (exactly one permission).</summary>
    public static EndpointAccess Needs(Permission permission) =>
        permission == Permission.None || (permission & (permission - 1)) != 0
            ? throw new ArgumentOutOfRangeException(nameof(permission), $"declare one permission, not '{permission}' (open endpoints: EndpointAccess.Open)")
            : new(AccessKind.Permission, permission, Role.None);

    /// <summary>Callers whose role holds every permission of <paramref name="role"/> (for a role named in configuration).</summary>
    public static EndpointAccess AtLeast(Role role) =>
        Roles.Find(role) is null
            ? throw new ArgumentOutOfRangeException(nameof(role), "declare a role of the role table (open endpoints: EndpointAccess.Open)")
            : new(AccessKind.Role, Permission.None, role);

    public static implicit operator EndpointAccess(Permission permission) => Needs(permission);

    /// <summary>
    /// The permissions a caller's role must hold, with roles resolved in <paramref name="table"/>
    /// (the real one, or a test's) and <paramref name="privileged"/> for the privileged role.
    /// </summary>
    public Permission Required(IReadOnlyList<RoleDefinition> table, Role privileged) => Kind switch
    {
        AccessKind.Permission => Permission,
        AccessKind.Role => PermissionsOf(table, Role),
        AccessKind.Privileged => PermissionsOf(table, privileged),
        _ => Permission.None,
    };

    /// <summary>Whether a caller with <paramref name="role"/> may call (open: everyone, with or without a role).</summary>
    public bool Allows(RoleDefinition? role, IReadOnlyList<RoleDefinition> table, Role privileged) =>
        Kind == AccessKind.Open || (role is not null && role.Holds(Required(table, privileged)));

    public override string ToString() => Kind switch
    {
        AccessKind.Open => "open",
        AccessKind.Permission => Permission.ToString(),
        AccessKind.Role => Role.Name(),
        _ => "privileged",
    };

    private static Permission PermissionsOf(IReadOnlyList<RoleDefinition> table, Role role)
    {
        foreach (var row in table)
        {
            if (row.Role == role)
            {
                return row.Permissions;
            }
        }

        // A role missing from the table: nobody holds "every permission" of it.
        return (Permission)(-1);
    }
}

/// <summary>
/// The one declaration of an endpoint, as endpoint metadata: who may call it, which bucket it
/// charges, its line in the permission matrix and its OpenAPI operation. The auth middleware,
/// the rate limit, <see cref="PermissionMatrix"/> (and so docs/AUTH.md) and the OpenAPI document
/// all read it; an endpoint without one is denied to everyone and fails start-up.
/// </summary>
/// <param name="Access">Who may call it.</param>
/// <param name="Rate">Which bucket a call is charged to.</param>
/// <param name="What">Its line in the permission matrix (docs/AUTH.md).</param>
/// <param name="Operation">Its OpenAPI operation; null only for the catch-all 404, which is no operation.</param>
internal sealed record EndpointSpec(EndpointAccess Access, RateClass Rate, string What, OperationSpec? Operation)
    : IEndpointSummaryMetadata, IEndpointDescriptionMetadata
{
    public string Summary => Operation?.Summary ?? What;

    public string Description => Operation?.Description ?? What;
}

/// <summary>How an endpoint is declared where it is mapped: <c>app.MapGet(...).Declare(Permission.Infer, "inference", new OperationSpec(...))</c>.</summary>
internal static class EndpointDeclarations
{
    /// <summary>
    /// Declares the endpoint's access, matrix line and operation. The rate class defaults to the
    /// caller's bucket, and to none for an open endpoint (which has no caller to charge).
    /// </summary>
    public static TBuilder Declare<TBuilder>(this TBuilder builder, EndpointAccess access, string what, OperationSpec? operation, RateClass? rate = null)
        where TBuilder : IEndpointConventionBuilder
    {
        var spec = Spec(access, what, operation, rate);
        builder.Add(endpoint => endpoint.Metadata.Add(spec));
        return builder;
    }

    /// <summary>
    /// The declaration <see cref="Declare"/> adds, for endpoints whose metadata is built by hand
    /// (gRPC methods): the rate class defaults as there, and an open endpoint charges nobody.
    /// </summary>
    public static EndpointSpec Spec(EndpointAccess access, string what, OperationSpec? operation, RateClass? rate = null)
    {
        var charged = rate ?? (access.Kind == AccessKind.Open ? RateClass.None : RateClass.Caller);
        if (access.Kind == AccessKind.Open && charged != RateClass.None)
        {
            throw new ArgumentException("an open endpoint has no caller whose bucket it could charge", nameof(rate));
        }

        return new EndpointSpec(access, charged, what, operation);
    }

    /// <summary>Endpoints of <paramref name="endpoints"/> that carry no <see cref="EndpointSpec"/>, as <c>METHOD pattern</c>.</summary>
    public static List<string> Undeclared(IEnumerable<Endpoint> endpoints)
    {
        var missing = new List<string>();
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<EndpointSpec>() is null)
            {
                var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
                var pattern = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint.DisplayName ?? "?";
                missing.Add((methods is null ? "*" : string.Join(',', methods)) + " " + pattern);
            }
        }

        return missing;
    }
}
