using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Gateway.Testing;

/// <summary>
/// A gateway as a child process on a loopback port (the published Native-AOT binary unless told
/// otherwise): start, wait for readiness, keep its output, stop it gracefully or kill it. The AOT
/// tests, the Torch and scale-out tests and the load runner all start gateways through this.
/// </summary>
public sealed partial class GatewayProcess : IAsyncDisposable, IDisposable
{
    private const int SIGTERM = 15;

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly GatewayStartInfo _info;

    private GatewayProcess(Process process, GatewayStartInfo info, int port, long startedAt)
    {
        _process = process;
        _info = info;
        Port = port;
        StartedAt = startedAt;
        Address = new Uri($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        Client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        if (info.LogFile is null)
        {
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }
    }

    /// <summary>The published binary: <c>GATEWAY_BINARY</c>, else artifacts/publish/gateway/gateway; fails clearly when it is missing.</summary>
    public static string BinaryPath
    {
        get
        {
            var path = System.Environment.GetEnvironmentVariable("GATEWAY_BINARY");
            if (string.IsNullOrEmpty(path))
            {
                path = Path.Combine(ReferenceModels.RepositoryRoot, "artifacts", "publish", "gateway", "gateway");
            }

            return File.Exists(path)
                ? path
                : throw new FileNotFoundException($"the AOT binary {path} does not exist: run ./build.sh publish (./build.sh test does) or set GATEWAY_BINARY", path);
        }
    }

    public int Port { get; }

    public Uri Address { get; }

    /// <summary>A client to <see cref="Address"/>; after a login it carries the access token.</summary>
    public HttpClient Client { get; }

    public Process Process => _process;

    public int Pid => _process.Id;

    /// <summary>Stopwatch timestamp taken just before the exec.</summary>
    public long StartedAt { get; }

    /// <summary>Everything the process has written so far (empty when it writes to a <see cref="GatewayStartInfo.LogFile"/>).</summary>
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

    /// <summary>Starts the process; it is not ready yet (<see cref="WaitReadyAsync"/>).</summary>
    public static GatewayProcess Start(GatewayStartInfo info)
    {
        var binary = info.FileName ?? BinaryPath;
        var port = info.Port ?? FreePort.Next();
        ProcessStartInfo start;
        if (info.LogFile is null)
        {
            start = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        }
        else
        {
            // The shell only redirects the output and then execs the gateway: the pid is the gateway's.
            start = new ProcessStartInfo("/bin/sh") { RedirectStandardInput = true };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$GATEWAY_LOG_FILE\" 2>&1 </dev/null");
            start.ArgumentList.Add(Path.GetFullPath(binary));
            start.Environment["GATEWAY_LOG_FILE"] = info.LogFile;
        }

        start.UseShellExecute = false;
        if (info.WorkingDirectory is not null)
        {
            start.WorkingDirectory = info.WorkingDirectory;
        }

        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}");
        if (info.ModelRepository is not null)
        {
            start.ArgumentList.Add("--model-repository");
            start.ArgumentList.Add(info.ModelRepository);
        }

        foreach (var arg in info.Arguments)
        {
            start.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in info.Environment)
        {
            start.Environment[name] = value;
        }

        if (info.AdminPassword is not null)
        {
            start.Environment["Auth__BootstrapAdminPassword"] = info.AdminPassword;
        }

        var startedAt = Stopwatch.GetTimestamp();
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + binary);
        return new GatewayProcess(process, info, port, startedAt);
    }

    /// <summary>
    /// Polls <c>GET /v2/health/ready</c> until it answers 200 (then logs in when an admin password
    /// was given); returns the time from exec to the first 200. Throws when the process exits first
    /// or the timeout (60 s unless given) passes.
    /// </summary>
    public async Task<TimeSpan> WaitReadyAsync(TimeSpan? timeout = null)
    {
        var deadline = StartedAt + (long)((timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (IsReady(Port))
            {
                var elapsed = Stopwatch.GetElapsedTime(StartedAt);
                if (_info.AdminPassword is not null)
                {
                    await LoginAsync("admin", _info.AdminPassword);
                }

                return elapsed;
            }

            ThrowIfExited();
            await Task.Delay(5);
        }

        throw new TimeoutException($"the gateway was not ready within {Seconds(timeout)} s:\n{Output}");
    }

    /// <summary>
    /// <see cref="WaitReadyAsync"/> without a login, polling about every millisecond on the calling
    /// thread: the load runner's exec-to-ready figure.
    /// </summary>
    public TimeSpan WaitReady(TimeSpan timeout)
    {
        var deadline = StartedAt + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (IsReady(Port))
            {
                return Stopwatch.GetElapsedTime(StartedAt);
            }

            ThrowIfExited();
            Thread.Sleep(1);
        }

        throw new TimeoutException($"the gateway was not ready within {Seconds(timeout)} s");
    }

    /// <summary>One raw HTTP/1.1 readiness request, so the probe itself costs next to nothing.</summary>
    public static bool IsReady(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 2000 };
        try
        {
            socket.Connect(IPAddress.Loopback, port);
            socket.Send("GET /v2/health/ready HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"u8);
            Span<byte> buffer = stackalloc byte[64];
            var filled = 0;
            while (filled < 12)
            {
                var read = socket.Receive(buffer[filled..]);
                if (read == 0)
                {
                    return false;
                }

                filled += read;
            }

            return buffer[..12].SequenceEqual("HTTP/1.1 200"u8);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Logs in with a password; later requests of <see cref="Client"/> carry the access token.</summary>
    public async Task LoginAsync(string username, string password)
    {
        var body = JsonSerializer.Serialize(new Dictionary<string, string> { ["username"] = username, ["password"] = password });
        using var login = await Client.PostAsync("/v1/auth/login", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await login.Content.ReadAsStringAsync();
        if (!login.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"login as {username} failed ({(int)login.StatusCode}): {text}");
        }

        using var json = JsonDocument.Parse(text);
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", json.RootElement.GetProperty("access_token").GetString());
    }

    /// <summary>Sends SIGTERM: the gateway stops accepting, finishes what it runs, flushes its exporters and exits.</summary>
    public void Terminate()
    {
        if (Kill(_process.Id, SIGTERM) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, SIGTERM) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>SIGTERM, then waits for the exit (30 s unless given); throws when it does not stop in time.</summary>
    public async Task StopAsync(TimeSpan? timeout = null)
    {
        if (!_process.HasExited)
        {
            Terminate();
            await _process.WaitForExitAsync().WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>SIGTERM, then a kill if it has not stopped within <paramref name="grace"/>.</summary>
    public void Stop(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return;
        }

        _ = Kill(_process.Id, SIGTERM);
        if (!_process.WaitForExit(grace))
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }
    }

    /// <summary>Waits for the process to exit; returns its exit code.</summary>
    public async Task<int> WaitExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    /// <summary>Resident set size now (VmRSS) and at its peak (VmHWM), in bytes.</summary>
    public (long Rss, long Peak) Memory()
    {
        long rss = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                rss = Kilobytes(line);
            }
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                peak = Kilobytes(line);
            }
        }

        return (rss, peak);
    }

    /// <summary>Kills the process (and anything it started) if it still runs.</summary>
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

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private void ThrowIfExited()
    {
        if (_process.HasExited)
        {
            var where = _info.LogFile is null ? ":\n" + Output : $" (log: {_info.LogFile})";
            throw new InvalidOperationException($"the gateway exited with code {_process.ExitCode} before it was ready{where}");
        }
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

    private static string Seconds(TimeSpan? timeout) => (timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds.ToString("0", CultureInfo.InvariantCulture);

    private static long Kilobytes(string line)
    {
        var digits = line.AsSpan(line.IndexOf(':', StringComparison.Ordinal) + 1).Trim();
        digits = digits[..digits.IndexOf(' ')];
        return long.Parse(digits, CultureInfo.InvariantCulture) * 1024;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
