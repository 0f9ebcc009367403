using System.Text;

namespace Gateway.Auth;

/// <summary>One row of the permission matrix: an endpoint's method, route pattern and declaration.</summary>
internal sealed record PermissionRow(string Method, string Pattern, EndpointSpec Spec);

/// <summary>
/// The permission matrix, computed from the endpoints the server maps (their
/// <see cref="EndpointSpec"/>): a row per endpoint and method, a column per role of the role
/// table. docs/AUTH.md holds it as generated (a test compares them); nothing here is written by hand.
/// </summary>
internal static class PermissionMatrix
{
    /// <summary>What the catch-all endpoint is called in the matrix.</summary>
    public const string FallbackPattern = "(any other path)";

    /// <summary>The role the matrix assumes for <see cref="AccessKind.Privileged"/> (<c>Auth:PrivilegedRole</c>'s default), marked <c>*</c>.</summary>
    public const Role DefaultPrivileged = Role.Supervisor;

    /// <summary>
    /// A row per endpoint and method, in the order they are mapped; the catch-all (<c>{*path}</c>)
    /// as <see cref="FallbackPattern"/> with method <c>*</c>. Throws, naming them, when an
    /// endpoint carries no declaration.
    /// </summary>
    public static List<PermissionRow> FromEndpoints(IEnumerable<Endpoint> endpoints)
    {
        var rows = new List<PermissionRow>();
        var undeclared = new List<string>();
        foreach (var endpoint in endpoints)
        {
            if (endpoint is not RouteEndpoint route || route.RoutePattern.RawText is not { } pattern)
            {
                continue;
            }

            var spec = endpoint.Metadata.GetMetadata<EndpointSpec>();
            var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"];
            foreach (var method in methods)
            {
                var shown = pattern.StartsWith("{*", StringComparison.Ordinal) ? FallbackPattern : pattern;
                if (spec is null)
                {
                    undeclared.Add(method + " " + shown);
                    continue;
                }

                rows.Add(new PermissionRow(method, shown, spec));
            }
        }

        if (undeclared.Count > 0)
        {
            throw new InvalidOperationException("endpoints mapped without a declaration (.Declare(...)): " + string.Join(", ", undeclared));
        }

        return rows;
    }

    /// <summary>The markdown table written in <c>docs/AUTH.md</c>: a column per role of <paramref name="table"/>.</summary>
    public static string ToMarkdown(IReadOnlyList<PermissionRow> rows, IReadOnlyList<RoleDefinition> table)
    {
        var text = new StringBuilder();
        text.Append("| method | path | open |");
        foreach (var role in table)
        {
            text.Append(' ').Append(role.Name).Append(" |");
        }

        text.Append(" what |\n|---|---|---|");
        for (var i = 0; i < table.Count; i++)
        {
            text.Append("---|");
        }

        text.Append("---|\n");
        foreach (var row in rows)
        {
            text.Append("| ").Append(row.Method).Append(" | `").Append(row.Pattern).Append("` | ");
            text.Append(Cell(row.Spec.Access, null, table)).Append(" | ");
            foreach (var role in table)
            {
                text.Append(Cell(row.Spec.Access, role, table)).Append(" | ");
            }

            text.Append(row.Spec.What.Replace("|", "\\|", StringComparison.Ordinal)).Append(" |\n");
        }

        return text.ToString();
    }

    /// <summary>The matrix of the role table in force.</summary>
    public static string ToMarkdown(IReadOnlyList<PermissionRow> rows) => ToMarkdown(rows, Roles.Table);

    /// <summary>
    /// yes or no; for the privileged role, which configuration chooses, <c>yes*</c> or <c>no*</c>
    /// as with its default (without credentials it is a plain no).
    /// </summary>
    private static string Cell(EndpointAccess access, RoleDefinition? role, IReadOnlyList<RoleDefinition> table)
    {
        var allowed = access.Allows(role, table, DefaultPrivileged) ? "yes" : "no";
        return access.Kind == AccessKind.Privileged && role is not null ? allowed + "*" : allowed;
    }
}
