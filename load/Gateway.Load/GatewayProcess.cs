using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Gateway.Load;

/// <summary>
/// The published gateway binary started on a free loopback port: exec-to-ready timing by a raw
/// socket probe, RSS from <c>/proc</c>, and a SIGTERM stop.
/// </summary>
internal sealed partial class GatewayProcess : IDisposable
{
    private const int SIGTERM = 15;

    // Started gateways, stopped if the runner itself is interrupted (Ctrl+C or SIGTERM).
    private static readonly List<GatewayProcess> s_running = [];

    private readonly Process _process;

    private static readonly PosixSignalRegistration[] s_signals =
    [
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, static _ => StopAll()),
        PosixSignalRegistration.Create(PosixSignal.SIGINT, static _ => StopAll()),
    ];

    private GatewayProcess(Process process, int port, long startedAt)
    {
        _process = process;
        Port = port;
        StartedAt = startedAt;
        BaseAddress = new Uri($"http://127.0.0.1:{port}");
    }

    public int Port { get; }

    public Uri BaseAddress { get; }

    public int Pid => _process.Id;

    /// <summary>Stopwatch timestamp taken just before the exec.</summary>
    public long StartedAt { get; }

    /// <summary>
    /// Starts <paramref name="binary"/> serving <paramref name="repository"/>. The shell only
    /// redirects output and then execs the gateway, so the process id is the gateway's.
    /// </summary>
    public static GatewayProcess Start(string binary, string repository, LoadOptions options)
    {
        var port = FreePort();
        var info = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$GATEWAY_LOAD_LOG\" 2>&1 </dev/null");
        info.ArgumentList.Add(Path.GetFullPath(binary));
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add($"http://127.0.0.1:{port}");
        info.ArgumentList.Add("--model-repository");
        info.ArgumentList.Add(repository);

        // The scenarios measure the protocol path; authentication is measured by its own
        // benchmark. A later --server-arg=--Auth:Mode=jwt wins (the last value of a key wins).
        info.ArgumentList.Add("--Auth:Mode=none");
        foreach (var arg in options.ServerArgs)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["GATEWAY_LOAD_LOG"] = options.ServerLog;
        foreach (var (key, value) in options.ServerEnv)
        {
            info.Environment[key] = value;
        }

        var startedAt = Stopwatch.GetTimestamp();
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {binary}");
        var gateway = new GatewayProcess(process, port, startedAt);
        lock (s_running)
        {
            s_running.Add(gateway);
        }

        return gateway;
    }

    /// <summary>
    /// Polls <c>GET /v2/health/ready</c> about every millisecond until it answers 200; returns the
    /// time since exec. Throws when the process exits or <paramref name="timeout"/> passes.
    /// </summary>
    public TimeSpan WaitReady(TimeSpan timeout)
    {
        var deadline = StartedAt + Hdr.SecondsToTicks(timeout.TotalSeconds);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (IsReady(Port))
            {
                return Stopwatch.GetElapsedTime(StartedAt);
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the gateway exited with code {_process.ExitCode} before it was ready (see --server-log)");
            }

            Thread.Sleep(1);
        }

        throw new TimeoutException($"the gateway was not ready within {timeout.TotalSeconds:0} s");
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

    /// <summary>SIGTERM, then a kill if it has not stopped within 10 s.</summary>
    public void Dispose()
    {
        lock (s_running)
        {
            if (!s_running.Remove(this))
            {
                return;
            }
        }

        if (!_process.HasExited)
        {
            _ = kill(_process.Id, SIGTERM);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _process.Kill();
                _process.WaitForExit();
            }
        }

        _process.Dispose();
    }

    private static void StopAll()
    {
        GatewayProcess[] running;
        lock (s_running)
        {
            running = [.. s_running];
        }

        foreach (var gateway in running)
        {
            gateway.Dispose();
        }
    }

    /// <summary>One raw HTTP/1.1 request so the probe itself costs next to nothing.</summary>
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

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static long Kilobytes(string line)
    {
        var digits = line.AsSpan(line.IndexOf(':', StringComparison.Ordinal) + 1).Trim();
        digits = digits[..digits.IndexOf(' ')];
        return long.Parse(digits, CultureInfo.InvariantCulture) * 1024;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
