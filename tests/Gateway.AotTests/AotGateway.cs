using Gateway.Testing;

namespace Gateway.AotTests;

/// <summary>
/// The published binary as these tests run it (<see cref="GatewayProcess"/>): its own user store
/// and the bootstrap admin that <see cref="GatewayProcess.WaitReadyAsync"/> logs in as.
/// </summary>
internal static class AotGateway
{
    /// <summary>The bootstrap admin's password in every process started here.</summary>
    public const string AdminPassword = "aot-test-admin-passphrase";

    public static GatewayProcess Start(string repository, params string[] args) => Start(repository, new Dictionary<string, string>(), args);

    /// <summary>Starts the binary with extra environment variables (OTEL_*, SENTRY_DSN).</summary>
    public static GatewayProcess Start(string repository, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var info = new GatewayStartInfo { ModelRepository = repository, AdminPassword = AdminPassword };
        foreach (var arg in args)
        {
            info.Arguments.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        info.Environment["Storage__SqlitePath"] = Path.Combine(Directory.CreateTempSubdirectory("gateway-aot-data-").FullName, "gateway.db");
        return GatewayProcess.Start(info);
    }
}
