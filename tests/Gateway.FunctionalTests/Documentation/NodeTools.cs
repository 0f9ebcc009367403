using System.Diagnostics;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Documentation;

/// <summary>
/// Runs the scripts of <c>tests/apidocs</c> with node: the OpenAPI validator and the headless
/// Chromium driver. <c>./build.sh test</c> installs their packages (npm ci) and Debian's chromium.
/// </summary>
internal static class NodeTools
{
    public static string Directory => Path.Combine(ReferenceModels.RepositoryRoot, "tests", "apidocs");

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string script, params string[] args)
    {
        Assert.True(System.IO.Directory.Exists(Path.Combine(Directory, "node_modules")),
            "run 'npm ci --prefix tests/apidocs' (./build.sh test does)");
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        info.ArgumentList.Add(Path.Combine(Directory, script));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node {script} did not finish in 3 minutes:\n{await stdout}\n{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
