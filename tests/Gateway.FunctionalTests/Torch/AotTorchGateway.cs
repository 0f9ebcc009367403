using Gateway.Testing;

namespace Gateway.FunctionalTests.Torch;

/// <summary>
/// The published Native-AOT gateway (<see cref="GatewayProcess"/>) for what only the real binary
/// can show: AOT loading of libtorch and the process's resident memory.
/// </summary>
internal static class AotTorchGateway
{
    /// <summary>Starts the binary serving <paramref name="repository"/> and waits until it is ready.</summary>
    public static async Task<GatewayProcess> StartAsync(string repository, params string[] args)
    {
        var binary = GatewayProcess.BinaryPath;
        // Serving is what these tests measure: no accounts, no rate limit, a throw-away data directory.
        var data = Directory.CreateTempSubdirectory("gateway-torch-data-").FullName;
        var info = new GatewayStartInfo
        {
            FileName = binary,
            ModelRepository = repository,
            // Its own directory: the content root is watched for appsettings.json.
            WorkingDirectory = Path.GetDirectoryName(binary)!,
        };
        foreach (var arg in (string[])
            [
                "--Auth:Mode", "none", "--RateLimit:Enabled", "false",
                "--Storage:SqlitePath", Path.Combine(data, "gateway.db"), "--Secrets:Directory", Path.Combine(data, "secrets"),
                .. args,
            ])
        {
            info.Arguments.Add(arg);
        }

        var gateway = GatewayProcess.Start(info);
        try
        {
            await gateway.WaitReadyAsync();
            return gateway;
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>The process's resident set size (VmRSS) in bytes.</summary>
    public static long ResidentBytes(this GatewayProcess gateway) => gateway.Memory().Rss;
}
