using System.Globalization;
using Gateway.Repository;

namespace Gateway.Protocol;

/// <summary>Resolves <c>{model}</c> and optional <c>{version}</c> route values to a loaded version.</summary>
internal static class ModelRoute
{
    public static bool TryResolve(HttpContext http, ModelRepository repository, out ModelVersion model, out int status, out string message)
    {
        model = null!;
        var routeValues = http.Request.RouteValues;
        var name = routeValues["model"] as string ?? string.Empty;
        if (!repository.TryGetModel(name, out var served))
        {
            status = StatusCodes.Status404NotFound;
            message = $"unknown model '{name}'";
            return false;
        }

        if (routeValues["version"] is not string versionText)
        {
            model = served.Latest;
            status = StatusCodes.Status200OK;
            message = string.Empty;
            return true;
        }

        if (!long.TryParse(versionText, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            || !served.TryGetVersion(version, out model, out _))
        {
            status = StatusCodes.Status404NotFound;
            message = $"model '{name}' has no version '{versionText}' being served (served: {ServedVersions(served)})";
            return false;
        }

        status = StatusCodes.Status200OK;
        message = string.Empty;
        return true;
    }

    public static string ServedVersions(ServedModel served)
    {
        var versions = new string[served.Versions.Count];
        for (var i = 0; i < versions.Length; i++)
        {
            versions[i] = served.Versions[i].VersionText;
        }

        return string.Join(", ", versions);
    }
}
