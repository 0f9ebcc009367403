using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.DeployTests.ScaleOut;

/// <summary>
/// One replica: the published Native-AOT binary (<c>GATEWAY_BINARY</c>, default
/// artifacts/publish/gateway/gateway) as a child process on a loopback port, with its console output kept.
/// </summary>
internal sealed class GatewayReplica : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private GatewayReplica(string name, Process process, int port)
    {
        Name = name;
        _process = process;
        Port = port;
        Address = new Uri($"http://127.0.0.1:{port}");
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Port { get; }

    public Uri Address { get; }

    public Process Process => _process;

    /// <summary>Everything the process has written so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string BinaryPath
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("GATEWAY_BINARY");
            if (string.IsNullOrEmpty(path))
            {
                path = Path.Combine(ReferenceModels.RepositoryRoot, "artifacts", "publish", "gateway", "gateway");
            }

            Assert.True(File.Exists(path), $"the AOT binary {path} does not exist: run ./build.sh publish (./build.sh test does)");
            return path;
        }
    }

    public static GatewayReplica Start(string name, int port, string repository, string secretsDirectory, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--urls", $"http://127.0.0.1:{port}", "--model-repository", repository, "--Secrets:Directory", secretsDirectory })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + BinaryPath);
        return new GatewayReplica(name, process, port);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A client straight to this replica, optionally with a bearer credential.</summary>
    public HttpClient Client(string? bearer = null)
    {
        var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    public async Task WaitReadyAsync()
    {
        using var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(_process.HasExited, $"replica {Name} exited early:\n{Output}");
            try
            {
                using var response = await client.GetAsync("/v2/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"replica {Name} not ready within 90 s:\n{Output}");
    }

    /// <summary>The <c>inference_count</c> of every version of every model, by model name, read from this replica.</summary>
    public async Task<Dictionary<string, (long Inferences, int QueueDepth)>> StatsAsync(string bearer)
    {
        using var client = Client(bearer);
        using var response = await client.GetAsync("/v2/models/stats");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"stats on {Name}: {(int)response.StatusCode} {text}");
        using var json = JsonDocument.Parse(text);
        var result = new Dictionary<string, (long, int)>(StringComparer.Ordinal);
        foreach (var model in json.RootElement.GetProperty("model_stats").EnumerateArray())
        {
            var name = model.GetProperty("name").GetString()!;
            var (count, depth) = result.GetValueOrDefault(name);
            result[name] = (count + model.GetProperty("inference_count").GetInt64(), depth + model.GetProperty("queue_depth").GetInt32());
        }

        return result;
    }

    /// <summary>Sends SIGTERM: the gateway stops accepting, finishes what it runs, then exits.</summary>
    public void Terminate() => Assert.Equal(0, Kill(_process.Id, 15));

    public async Task<int> WaitExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
