namespace Gateway.Auth;

/// <summary>
/// Endpoint metadata: the least role that may call an endpoint. An endpoint without this
/// metadata and without <see cref="OpenAccess"/> is denied to everyone (deny by default), so a
/// forgotten declaration never makes an endpoint public.
/// </summary>
internal sealed class RoleRequirement(Role minimum)
{
    public Role Minimum { get; } = minimum;

    public override string ToString() => Minimum.Name();
}

/// <summary>Endpoint metadata: open to callers without credentials (health probes, login).</summary>
internal sealed class OpenAccess
{
    public static readonly OpenAccess Instance = new();

    private OpenAccess()
    {
    }

    public override string ToString() => "open";
}

/// <summary>
/// Endpoint metadata: the role configured as <c>Auth:PrivilegedRole</c> (metrics, detailed
/// health), resolved when the request arrives.
/// </summary>
internal sealed class PrivilegedAccess
{
    public static readonly PrivilegedAccess Instance = new();

    private PrivilegedAccess()
    {
    }

    public override string ToString() => "privileged";
}

/// <summary>How endpoints declare who may call them (see <see cref="PermissionMatrix"/>).</summary>
internal static class EndpointAccessExtensions
{
    /// <summary>Only callers holding <paramref name="minimum"/> or a higher role may call the endpoint.</summary>
    public static TBuilder RequireRole<TBuilder>(this TBuilder builder, Role minimum)
        where TBuilder : IEndpointConventionBuilder
    {
        if (minimum == Role.None)
        {
            throw new ArgumentOutOfRangeException(nameof(minimum), "declare open endpoints with AllowOpen()");
        }

        var requirement = new RoleRequirement(minimum);
        builder.Add(endpoint => endpoint.Metadata.Add(requirement));
        return builder;
    }

    /// <summary>Anyone may call the endpoint, without credentials.</summary>
    public static TBuilder AllowOpen<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(static endpoint => endpoint.Metadata.Add(OpenAccess.Instance));
        return builder;
    }

    /// <summary>Only callers holding the configured privileged role (<c>Auth:PrivilegedRole</c>) or higher.</summary>
    public static TBuilder RequirePrivileged<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(static endpoint => endpoint.Metadata.Add(PrivilegedAccess.Instance));
        return builder;
    }
}
