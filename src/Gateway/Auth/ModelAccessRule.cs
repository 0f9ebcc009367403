namespace Gateway.Auth;

/// <summary>
/// A model's own access list (<c>"access": {"roles": [...], "users": [...]}</c> in its
/// <c>config.json</c>): inference on the model is limited to callers whose role is listed or,
/// for users, whose name is listed. Listing a role admits exactly that role, not those above it,
/// so a model can be kept from admins' day-to-day tokens too. The caller still needs the
/// endpoint's role (worker) first.
/// </summary>
internal sealed class ModelAccessRule
{
    private readonly bool[] _roles = new bool[Roles.IndexLength];
    private readonly HashSet<string> _users = new(StringComparer.Ordinal);

    public static bool TryCreate(Repository.AccessConfig? config, out ModelAccessRule? rule, out string error)
    {
        rule = null;
        error = string.Empty;
        if (config is null)
        {
            return true;
        }

        var created = new ModelAccessRule();
        foreach (var name in config.Roles ?? [])
        {
            if (!Roles.TryParse(name.AsSpan(), out var role))
            {
                error = $"access.roles: '{name}' is not a role (roles: {Roles.Accepted})";
                return false;
            }

            created._roles[(int)role] = true;
        }

        foreach (var user in config.Users ?? [])
        {
            if (UserService.CheckUsername(user) is { } problem)
            {
                error = $"access.users: '{user}': {problem}";
                return false;
            }

            created._users.Add(user);
        }

        if (created._users.Count == 0 && Array.IndexOf(created._roles, true) < 0)
        {
            error = "access must list at least one role or user (leave it out to allow every worker)";
            return false;
        }

        rule = created;
        return true;
    }

    public bool Allows(Caller? caller) => caller switch
    {
        null => false,
        { Kind: CallerKind.Unauthenticated } => true,
        { Kind: CallerKind.User } => _roles[(int)caller.Role] || _users.Contains(caller.Name),
        _ => _roles[(int)caller.Role],
    };
}
