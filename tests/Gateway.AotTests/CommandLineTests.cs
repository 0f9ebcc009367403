using System.Diagnostics;
using Gateway.Testing;

namespace Gateway.AotTests;

/// <summary>
/// The published binary's command line: help and version answer without starting a server, and a
/// misspelled flag or a bad value ends the process with exit code 2 and one line naming it.
/// </summary>
public class CommandLineTests
{
    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(GatewayProcess.BinaryPath, args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // A server that starts by mistake would listen here, not on a port in use.
            Environment = { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{FreePort.Next()}" },
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            process.Kill();
            throw new InvalidOperationException($"gateway {string.Join(' ', args)} did not exit within 30 s (a server started?)");
        }

        return (process.ExitCode, await output, await error);
    }

    [Fact]
    public async Task Help_PrintsTheFlagsAndKeys_AndExitsWithoutServing()
    {
        var (code, output, error) = await RunAsync("--help");
        Assert.Equal(0, code);
        Assert.Equal("", error);
        Assert.StartsWith("Usage: gateway [options]", output);
        foreach (var expected in new[] { "--urls URLS", "--model-repository DIR", "[Gateway:ModelRepository]", "--grpc-port N", "[Grpc:Port]", "--probe [URL]", "--version", "Auth:Mode", "Telemetry:LogFormat", "docs/CONFIGURATION.md" })
        {
            Assert.Contains(expected, output);
        }

        Assert.Equal(0, (await RunAsync("-h")).ExitCode);
        // Help wins wherever it stands, even after other flags.
        Assert.Equal(output, (await RunAsync("--model-repository", "models", "--help")).Output);
    }

    [Fact]
    public async Task Version_PrintsTheVersionAndTheBackendsCompiledIn()
    {
        var (code, output, _) = await RunAsync("--version");
        Assert.Equal(0, code);
        Assert.Matches(@"^gateway \d+\.\d+\.\d+[^;]*; backends: onnx \(onnxruntime_onnx\)(, torch \(pytorch_libtorch\))?\n$", output);
    }

    [Theory]
    [InlineData(new[] { "--modle-repository", "models" }, "gateway: unknown option '--modle-repository'; did you mean --model-repository? (see gateway --help)")]
    [InlineData(new[] { "--url", "http://127.0.0.1:1" }, "gateway: unknown option '--url'; did you mean --urls? (see gateway --help)")]
    [InlineData(new[] { "--verbose" }, "gateway: unknown option '--verbose' (see gateway --help)")]
    [InlineData(new[] { "serve" }, "gateway: unexpected argument 'serve' (see gateway --help)")]
    [InlineData(new[] { "--grpc-port", "http" }, "gateway: option '--grpc-port': 'http' is not a port number from 1 to 65535 (see gateway --help)")]
    [InlineData(new[] { "--grpc-port=70000" }, "gateway: option '--grpc-port': '70000' is not a port number from 1 to 65535 (see gateway --help)")]
    [InlineData(new[] { "--urls", "127.0.0.1:8080" }, "gateway: option '--urls': '127.0.0.1:8080' is not an http:// or https:// address (see gateway --help)")]
    [InlineData(new[] { "--model-repository" }, "gateway: option '--model-repository' needs a value (see gateway --help)")]
    public async Task BadArguments_ExitTwo_WithOneLineNamingThem(string[] args, string expected)
    {
        var (code, output, error) = await RunAsync(args);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Equal(expected + "\n", error);
    }
}
