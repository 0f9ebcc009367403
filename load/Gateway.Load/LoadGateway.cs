using System.Runtime.InteropServices;
using Gateway.Testing;

namespace Gateway.Load;

/// <summary>
/// The published gateway as the runner starts it (<see cref="GatewayProcess"/>): the scenarios'
/// server arguments, its output appended to --server-log, and a stop (SIGTERM, then a kill after
/// 10 s) that also runs when the runner itself is interrupted (Ctrl+C or SIGTERM).
/// </summary>
internal sealed class LoadGateway : IDisposable
{
    private static readonly List<LoadGateway> s_running = [];

    private static readonly PosixSignalRegistration[] s_signals =
    [
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, static _ => StopAll()),
        PosixSignalRegistration.Create(PosixSignal.SIGINT, static _ => StopAll()),
    ];

    private readonly GatewayProcess _gateway;

    private LoadGateway(GatewayProcess gateway, int grpcPort)
    {
        _gateway = gateway;
        GrpcAddress = new Uri($"http://127.0.0.1:{grpcPort}");
    }

    public Uri BaseAddress => _gateway.Address;

    /// <summary>The gRPC listener (Grpc:Port) the grpc-* scenarios call.</summary>
    public Uri GrpcAddress { get; }

    public int Pid => _gateway.Pid;

    /// <summary>Starts <paramref name="binary"/> serving <paramref name="repository"/> on a free loopback port.</summary>
    public static LoadGateway Start(string binary, string repository, LoadOptions options)
    {
        // The scenarios measure the protocol path; authentication is measured by its own
        // benchmark. A later --server-arg=--Auth:Mode=jwt wins (the last value of a key wins).
        var info = new GatewayStartInfo { FileName = binary, ModelRepository = repository, LogFile = options.ServerLog, Arguments = { "--Auth:Mode=none" } };
        foreach (var arg in options.ServerArgs)
        {
            info.Arguments.Add(arg);
        }

        foreach (var (key, value) in options.ServerEnv)
        {
            info.Environment[key] = value;
        }

        // gRPC on its own port, always: the grpc-* scenarios share the server with the REST ones.
        var grpcPort = FreePort.Next();
        info.Arguments.Insert(1, "--Grpc:Port=" + grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var gateway = new LoadGateway(GatewayProcess.Start(info), grpcPort);
        lock (s_running)
        {
            s_running.Add(gateway);
        }

        return gateway;
    }

    /// <summary>Polls readiness about every millisecond; returns the time since exec.</summary>
    public TimeSpan WaitReady(TimeSpan timeout) => _gateway.WaitReady(timeout);

    /// <summary>Resident set size now (VmRSS) and at its peak (VmHWM), in bytes.</summary>
    public (long Rss, long Peak) Memory() => _gateway.Memory();

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

        _gateway.Stop(TimeSpan.FromSeconds(10));
        _gateway.Dispose();
    }

    private static void StopAll()
    {
        LoadGateway[] running;
        lock (s_running)
        {
            running = [.. s_running];
        }

        foreach (var gateway in running)
        {
            gateway.Dispose();
        }
    }
}
