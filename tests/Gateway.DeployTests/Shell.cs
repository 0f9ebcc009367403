using System.Diagnostics;
using System.Text;

namespace Gateway.DeployTests;

/// <summary>Runs a command and captures its output.</summary>
internal static class Shell
{
    /// <summary>Runs a command; the output is standard output followed by standard error.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> args, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var result = await RunSplitAsync(file, args, null, workingDirectory, timeout);
        return (result.ExitCode, result.StdOut + result.StdErr);
    }

    /// <summary>
    /// Runs a command with extra environment variables (an empty value is passed as empty, not
    /// removed); standard output and standard error apart, so a warning on standard error never
    /// spoils a value read from standard output.
    /// </summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunSplitAsync(
        string file, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var root = Gateway.Testing.ReferenceModels.RepositoryRoot;
        var resolved = file.Contains('/', StringComparison.Ordinal) && !Path.IsPathRooted(file) ? Path.Combine(root, file) : file;
        var info = new ProcessStartInfo(resolved)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? root,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                info.Environment[name] = value;
            }
        }

        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish:\n{await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
