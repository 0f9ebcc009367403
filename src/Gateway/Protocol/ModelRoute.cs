using System.Globalization;
using Gateway.Repository;

namespace Gateway.Protocol;

/// <summary>Resolves <c>{model}</c> and optional <c>{version}</c> route values to a served version.</summary>
internal static class ModelRoute
{
    public static bool TryResolve(HttpContext http, ModelRepository repository, out ModelVersion model, out int status, out string message)
    {
        var routeValues = http.Request.RouteValues;
        return TryResolve(repository, routeValues["model"] as string ?? string.Empty, routeValues["version"] as string, out model, out status, out message);
    }

    /// <summary>Resolves a model by name and optional version text (null or empty: the latest served).</summary>
    public static bool TryResolve(ModelRepository repository, string name, string? versionText, out ModelVersion model, out int status, out string message)
    {
        model = null!;
        if (!repository.TryGetModel(name, out var served))
        {
            var reason = repository.UnavailableReason(name);
            status = reason is null ? StatusCodes.Status404NotFound : StatusCodes.Status503ServiceUnavailable;
            message = reason is null ? $"unknown model '{name}'" : $"model '{name}' is not available: {reason}";
            return false;
        }

        if (string.IsNullOrEmpty(versionText))
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

    /// <summary>
    /// Resolves and takes a hold on the version, so it cannot be freed while the request uses it.
    /// A version retired between lookup and hold is looked up again in the new snapshot.
    /// </summary>
    public static bool TryAcquire(HttpContext http, ModelRepository repository, out ModelVersion model, out int status, out string message)
    {
        var routeValues = http.Request.RouteValues;
        return TryAcquire(repository, routeValues["model"] as string ?? string.Empty, routeValues["version"] as string, out model, out status, out message);
    }

    /// <summary><see cref="TryAcquire(HttpContext, ModelRepository, out ModelVersion, out int, out string)"/> by name and version text.</summary>
    public static bool TryAcquire(ModelRepository repository, string name, string? versionText, out ModelVersion model, out int status, out string message)
    {
        for (var attempt = 0; attempt < 4; attempt++)
        {
            if (!TryResolve(repository, name, versionText, out model, out status, out message))
            {
                return false;
            }

            if (model.TryAcquire())
            {
                return true;
            }
        }

        model = null!;
        status = StatusCodes.Status503ServiceUnavailable;
        message = "the model is being replaced; retry";
        return false;
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
