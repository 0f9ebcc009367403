using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Gateway.Testing;

/// <summary>A Redis server of the test's own on a free loopback port, to stop and start at will.</summary>
public sealed class RedisProcess : IDisposable
{
    private Process? _process;

    public RedisProcess()
    {
        Port = FreePort.Next();
        Start();
    }

    public int Port { get; }

    public string Configuration => $"127.0.0.1:{Port}";

    public void Start()
    {
        var info = new ProcessStartInfo(TestServices.RedisServer)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" })
        {
            info.ArgumentList.Add(arg);
        }

        _process = Process.Start(info)!;
        _process.OutputDataReceived += static (_, _) => { };
        _process.BeginOutputReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var client = new TcpClient();
                client.Connect(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }

        throw new TimeoutException($"redis-server did not listen on {Port}");
    }

    public void Stop()
    {
        if (_process is { HasExited: false })
        {
            Resume();
            _process.Kill();
            _process.WaitForExit();
        }

        _process?.Dispose();
        _process = null;
    }

    /// <summary>Freezes the server (SIGSTOP): connections stay open, nothing answers. A slow or hung Redis.</summary>
    public void Pause() => Signals.Send(_process!.Id, Signals.Stop);

    /// <summary>Lets a paused server go on (SIGCONT).</summary>
    public void Resume()
    {
        if (_process is { HasExited: false })
        {
            Signals.Send(_process.Id, Signals.Continue);
        }
    }

    public void Dispose() => Stop();
}
