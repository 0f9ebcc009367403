namespace Gateway.Auth;

/// <summary>
/// What a role may do. Endpoints declare the permission they need (src/Gateway/Auth/EndpointSpec.cs);
/// a role is the set it holds (<see cref="Roles.Table"/>).
/// </summary>
[Flags]
internal enum Permission
{
    None = 0,

    /// <summary>Server and model metadata, readiness, configuration and the repository index.</summary>
    ReadMetadata = 1 << 0,

    /// <summary>The caller's own account: read it, change its password, log out.</summary>
    OwnAccount = 1 << 1,

    /// <summary>Inference (a model's own access list may narrow it further).</summary>
    Infer = 1 << 2,

    /// <summary>Load, unload and reload models.</summary>
    ControlModels = 1 << 3,

    /// <summary>Usage statistics of the models.</summary>
    ReadUsage = 1 << 4,

    /// <summary>Create, read, change and delete users.</summary>
    ManageUsers = 1 << 5,

    /// <summary>Create, list and revoke API keys.</summary>
    ManageKeys = 1 << 6,
}

/// <summary>
/// A role's identity in code. Its name, permissions and default rate limit are its row in
/// <see cref="Roles.Table"/>; the numeric value is only an index (roles are stored and sent by name).
/// <see cref="None"/> is no role at all (never stored, never granted).
/// </summary>
internal enum Role
{
    None = 0,
    Viewer = 1,
    Worker = 2,
    Supervisor = 3,
    Admin = 4,
}

/// <summary>One row of the role table.</summary>
/// <param name="Role">The role.</param>
/// <param name="Name">Its name on the wire, in tokens and in the stores (lower case; never change one: issued tokens carry it).</param>
/// <param name="Permissions">What it may do.</param>
/// <param name="PerSecond">Default refill of its callers' token bucket (<c>RateLimit:&lt;Name&gt;:PerSecond</c> overrides).</param>
/// <param name="Burst">Default size of that bucket (<c>RateLimit:&lt;Name&gt;:Burst</c> overrides).</param>
internal sealed record RoleDefinition(Role Role, string Name, Permission Permissions, double PerSecond, int Burst)
{
    /// <summary>The name as a configuration key segment (<c>Viewer</c> in <c>RateLimit:Viewer</c>).</summary>
    public string ConfigKey { get; } = char.ToUpperInvariant(Name[0]) + Name[1..];

    /// <summary>True when this role holds every permission in <paramref name="required"/>.</summary>
    public bool Holds(Permission required) => (Permissions & required) == required;
}

/// <summary>
/// The role table, and what derives from it: parsing, names, the accepted-names text, the
/// permission check, per-role rate rules (RateLimitOptions) and the permission matrix's columns.
/// </summary>
internal static class Roles
{
    private const Permission ViewerPermissions = Permission.ReadMetadata | Permission.OwnAccount;
    private const Permission WorkerPermissions = ViewerPermissions | Permission.Infer;
    private const Permission SupervisorPermissions = WorkerPermissions | Permission.ControlModels | Permission.ReadUsage;
    private const Permission AdminPermissions = SupervisorPermissions | Permission.ManageUsers | Permission.ManageKeys;

    /// <summary>
    /// Every role, one row each, in the order the permission matrix shows them (lowest first).
    /// Adding a role is a row here and its member in <see cref="Role"/> (a test checks they agree).
    /// </summary>
    public static readonly RoleDefinition[] Table =
    [
        new(Role.Viewer, "viewer", ViewerPermissions, 50, 100),
        new(Role.Worker, "worker", WorkerPermissions, 1000, 2000),
        new(Role.Supervisor, "supervisor", SupervisorPermissions, 1000, 2000),
        new(Role.Admin, "admin", AdminPermissions, 1000, 2000),
    ];

    // PERF: the request path asks for a caller's permissions by role on every authorized request: an array index.
    private static readonly RoleDefinition?[] s_byRole = Index(Table);

    /// <summary>The names accepted by <see cref="TryParse(ReadOnlySpan{char}, out Role)"/>, for error messages (highest first, as always written).</summary>
    public static readonly string Accepted = AcceptedText(Table);

    /// <summary>One more than the highest role value: the length of an array indexed by role.</summary>
    public static int IndexLength => s_byRole.Length;

    /// <summary>The role's row, or null for <see cref="Role.None"/> and values outside the table.</summary>
    public static RoleDefinition? Find(Role role) => (uint)role < (uint)s_byRole.Length ? s_byRole[(int)role] : null;

    /// <summary>The lower-case name (<c>admin</c>, <c>supervisor</c>, <c>worker</c>, <c>viewer</c>), or <c>none</c>.</summary>
    public static string Name(this Role role) => Find(role)?.Name ?? "none";

    /// <summary>The role's permissions (none for <see cref="Role.None"/>).</summary>
    public static Permission Permissions(this Role role) => Find(role)?.Permissions ?? Permission.None;

    /// <summary>Parses a role name exactly (lower case); <see cref="Role.None"/> is never parsed.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Role role)
    {
        foreach (var row in Table)
        {
            if (text.SequenceEqual(row.Name))
            {
                role = row.Role;
                return true;
            }
        }

        role = Role.None;
        return false;
    }

    /// <summary>Parses a role name from UTF-8 bytes exactly (lower case); role names are ASCII.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out Role role)
    {
        foreach (var row in Table)
        {
            if (AsciiEquals(utf8, row.Name))
            {
                role = row.Role;
                return true;
            }
        }

        role = Role.None;
        return false;
    }

    /// <summary>
    /// The first role of the table (lowest first) that holds <paramref name="required"/>: what a
    /// 403 and the document name as the least role an endpoint needs. None when no role does.
    /// </summary>
    public static Role Least(Permission required)
    {
        foreach (var row in Table)
        {
            if (row.Holds(required))
            {
                return row.Role;
            }
        }

        return Role.None;
    }

    internal static RoleDefinition?[] Index(RoleDefinition[] table)
    {
        var max = 0;
        foreach (var row in table)
        {
            if (row.Role == Role.None)
            {
                throw new ArgumentException("Role.None is no role and has no row", nameof(table));
            }

            max = Math.Max(max, (int)row.Role);
        }

        var index = new RoleDefinition?[max + 1];
        foreach (var row in table)
        {
            if (index[(int)row.Role] is not null)
            {
                throw new ArgumentException($"role {row.Role} has two rows", nameof(table));
            }

            index[(int)row.Role] = row;
        }

        return index;
    }

    internal static string AcceptedText(RoleDefinition[] table)
    {
        var names = new string[table.Length];
        for (var i = 0; i < table.Length; i++)
        {
            names[i] = table[table.Length - 1 - i].Name;
        }

        return string.Join(", ", names);
    }

    private static bool AsciiEquals(ReadOnlySpan<byte> utf8, string name)
    {
        if (utf8.Length != name.Length)
        {
            return false;
        }

        for (var i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] != name[i])
            {
                return false;
            }
        }

        return true;
    }
}
