namespace Gateway.Auth;

/// <summary>
/// Roles, ordered: each one may do everything the roles below it may. <see cref="None"/> is no
/// role at all (never stored, never granted).
/// </summary>
internal enum Role
{
    None = 0,

    /// <summary>Reads server and model metadata and the repository index.</summary>
    Viewer = 1,

    /// <summary>Also runs inference.</summary>
    Worker = 2,

    /// <summary>Also loads, unloads and reloads models and reads usage.</summary>
    Supervisor = 3,

    /// <summary>Also manages users and API keys.</summary>
    Admin = 4,
}

/// <summary>Role names as they appear on the wire, in tokens and in the store.</summary>
internal static class Roles
{
    /// <summary>The lower-case name (<c>admin</c>, <c>supervisor</c>, <c>worker</c>, <c>viewer</c>).</summary>
    public static string Name(this Role role) => role switch
    {
        Role.Viewer => "viewer",
        Role.Worker => "worker",
        Role.Supervisor => "supervisor",
        Role.Admin => "admin",
        _ => "none",
    };

    /// <summary>Parses a role name exactly (lower case); <see cref="Role.None"/> is never parsed.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Role role)
    {
        role = text switch
        {
            "viewer" => Role.Viewer,
            "worker" => Role.Worker,
            "supervisor" => Role.Supervisor,
            "admin" => Role.Admin,
            _ => Role.None,
        };
        return role != Role.None;
    }

    /// <summary>Parses a role name from UTF-8 bytes exactly (lower case).</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out Role role)
    {
        role = utf8.SequenceEqual("viewer"u8) ? Role.Viewer
            : utf8.SequenceEqual("worker"u8) ? Role.Worker
            : utf8.SequenceEqual("supervisor"u8) ? Role.Supervisor
            : utf8.SequenceEqual("admin"u8) ? Role.Admin
            : Role.None;
        return role != Role.None;
    }

    /// <summary>The names accepted by <see cref="TryParse(ReadOnlySpan{char}, out Role)"/>, for error messages.</summary>
    public const string Accepted = "admin, supervisor, worker, viewer";
}
