using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Torch;

/// <summary>
/// The published Native-AOT gateway (<c>GATEWAY_BINARY</c>, else artifacts/publish/gateway/gateway)
/// as a child process on an ephemeral loopback port, for what only the real binary can show:
/// AOT loading of libtorch and the process's resident memory.
/// </summary>
public sealed partial class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private GatewayProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public int ProcessId => _process.Id;

    public static string BinaryPath
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("GATEWAY_BINARY");
            if (string.IsNullOrEmpty(path))
            {
                path = Path.Combine(ReferenceModels.RepositoryRoot, "artifacts", "publish", "gateway", "gateway");
            }

            Assert.True(File.Exists(path), $"the AOT gateway is not at {path}: run ./build.sh publish (or set GATEWAY_BINARY)");
            return path;
        }
    }

    public static async Task<GatewayProcess> StartAsync(string repository, params string[] args)
    {
        var binary = BinaryPath;
        var start = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // Its own directory: the content root is watched for appsettings.json.
            WorkingDirectory = Path.GetDirectoryName(binary)!,
        };
        // Serving is what these tests measure: no accounts, no rate limit, a throw-away data directory.
        var data = Directory.CreateTempSubdirectory("gateway-torch-data-").FullName;
        string[] all =
        [
            "--urls", "http://127.0.0.1:0", "--model-repository", repository,
            "--Auth:Mode", "none", "--RateLimit:Enabled", "false",
            "--Storage:SqlitePath", Path.Combine(data, "gateway.db"), "--Secrets:Directory", Path.Combine(data, "secrets"),
            .. args,
        ];
        foreach (var arg in all)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        var lines = new List<string>();
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnLine(object? sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }

            lock (lines)
            {
                lines.Add(e.Data);
            }

            var match = ListeningLine().Match(e.Data);
            if (match.Success)
            {
                listening.TrySetResult(new Uri(match.Groups[1].Value));
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var exited = process.WaitForExitAsync();
        var first = await Task.WhenAny(listening.Task, exited, Task.Delay(TimeSpan.FromSeconds(60)));
        if (first != listening.Task)
        {
            process.Kill(entireProcessTree: true);
            string text;
            lock (lines)
            {
                text = string.Join('\n', lines);
            }

            throw new InvalidOperationException($"the gateway at {binary} did not start listening:\n{text}");
        }

        var gateway = new GatewayProcess(process, await listening.Task);
        lock (lines)
        {
            gateway._output.AddRange(lines);
        }

        await gateway.WaitReadyAsync();
        return gateway;
    }

    /// <summary>The process's resident set size (VmRSS) in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS line for the gateway process");
    }

    private async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            using var response = await Client.GetAsync("/v2/health/ready");
            if (response.IsSuccessStatusCode)
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException("the gateway process did not become ready within 60 s");
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    // The console log is JSON by default: the address ends at the closing quote of "Message".
    [GeneratedRegex(@"Now listening on: (http://[^\s""]+)")]
    private static partial Regex ListeningLine();
}
