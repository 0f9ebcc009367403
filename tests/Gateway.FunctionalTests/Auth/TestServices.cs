using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Npgsql;

namespace Gateway.Testing;

/// <summary>
/// The PostgreSQL 15 and Redis 7 that <c>./build.sh test</c> starts on loopback and describes in
/// <c>GATEWAY_TEST_POSTGRES</c>, <c>GATEWAY_TEST_REDIS</c> and <c>GATEWAY_TEST_REDIS_SERVER</c>.
/// Tests that need them fail with this message when they are missing, never skip.
/// </summary>
internal static class TestServices
{
    private const string Missing = "is not set: run ./build.sh test, which starts PostgreSQL 15 and Redis 7 on loopback and exports it";

    public static string Postgres => Environment.GetEnvironmentVariable("GATEWAY_TEST_POSTGRES") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("GATEWAY_TEST_POSTGRES " + Missing);

    public static string Redis => Environment.GetEnvironmentVariable("GATEWAY_TEST_REDIS") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("GATEWAY_TEST_REDIS " + Missing);

    public static string RedisServer => Environment.GetEnvironmentVariable("GATEWAY_TEST_REDIS_SERVER") is { Length: > 0 } value
        ? value
        : throw new InvalidOperationException("GATEWAY_TEST_REDIS_SERVER " + Missing);

    /// <summary>The password in <see cref="Postgres"/> (tests check it never reaches a log).</summary>
    public static string PostgresPassword => new NpgsqlConnectionStringBuilder(Postgres).Password!;

    /// <summary>A fresh, empty database on the test server; returns its connection string.</summary>
    public static async Task<string> CreatePostgresDatabaseAsync()
    {
        var name = "gw_" + Guid.NewGuid().ToString("N");
        await using (var connection = new NpgsqlConnection(Postgres))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
#pragma warning disable CA2100 // The name is a GUID made here, not input.
            command.CommandText = $"CREATE DATABASE {name}";
#pragma warning restore CA2100
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(Postgres) { Database = name }.ConnectionString;
    }

    /// <summary>The same connection string without its password (given separately as a secret).</summary>
    public static string WithoutPassword(string connectionString) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Password = null }.ConnectionString;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A Redis server of the test's own on a free loopback port, to stop and start at will.</summary>
internal sealed class RedisProcess : IDisposable
{
    private Process? _process;

    public RedisProcess()
    {
        Port = TestServices.FreePort();
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

/// <summary>
/// A PostgreSQL 15 server of the test's own (Debian's binaries, a throwaway data directory, a free
/// loopback port), to stop and start at will: the shared one of <see cref="TestServices"/> serves
/// every other test at the same time. As root, the server runs as the <c>postgres</c> user (initdb
/// and postgres refuse root), as <c>./build.sh</c> does.
/// </summary>
internal sealed class PostgresProcess : IDisposable
{
    private const string Password = "outage-test-password";
    private readonly string _directory;
    private readonly string _bin;

    public PostgresProcess()
    {
        _bin = Environment.GetEnvironmentVariable("GATEWAY_TEST_PG_BIN") is { Length: > 0 } bin ? bin : "/usr/lib/postgresql/15/bin";
        if (!File.Exists(Path.Combine(_bin, "initdb")))
        {
            throw new InvalidOperationException($"PostgreSQL 15 is not installed at {_bin}: ./build.sh test installs postgresql-15 (or set GATEWAY_TEST_PG_BIN)");
        }

        Port = TestServices.FreePort();
        _directory = Path.Combine(Path.GetTempPath(), "gateway-pg-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_directory, (UnixFileMode)0b111_101_101);
        }
        var passwordFile = Path.Combine(_directory, "pwfile");
        File.WriteAllText(passwordFile, Password + "\n");
        Own(_directory);
        Run("initdb", "-D", DataDirectory, "-U", "gateway", "--pwfile=" + passwordFile, "--auth=scram-sha-256", "-E", "UTF8", "--no-sync");
        File.Delete(passwordFile);
        Start();
    }

    public int Port { get; }

    public string ConnectionString =>
        $"Host=127.0.0.1;Port={Port.ToString(CultureInfo.InvariantCulture)};Username=gateway;Password={Password};Database=postgres;Pooling=true";

    private string DataDirectory => Path.Combine(_directory, "data");

    public void Start() => Run(
        "pg_ctl", "-D", DataDirectory, "-l", Path.Combine(_directory, "postgres.log"), "-w", "-t", "60",
        "-o", $"-c listen_addresses=127.0.0.1 -p {Port.ToString(CultureInfo.InvariantCulture)} -k {_directory} -c fsync=off", "start");

    /// <summary>Stops the server at once (connections are cut, as in a crash or a failover).</summary>
    public void Stop() => Run("pg_ctl", "-D", DataDirectory, "-m", "immediate", "-w", "stop");

    public void Dispose()
    {
        if (File.Exists(Path.Combine(DataDirectory, "postmaster.pid")))
        {
            try
            {
                Stop();
            }
            catch (InvalidOperationException)
            {
                // Already stopped; the directory goes anyway.
            }
        }

        Directory.Delete(_directory, recursive: true);
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static void Own(string path)
    {
        if (IsRoot)
        {
            using var chown = Process.Start("chown", ["-R", "postgres", path])!;
            chown.WaitForExit();
        }
    }

    private void Run(string tool, params string[] args)
    {
        var info = IsRoot ? new ProcessStartInfo("runuser") { ArgumentList = { "-u", "postgres", "--", Path.Combine(_bin, tool) } } : new ProcessStartInfo(Path.Combine(_bin, tool));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed ({process.ExitCode}): {error} {output.Result}");
        }
    }
}

/// <summary>POSIX signals for pausing a server process.</summary>
internal static partial class Signals
{
    public const int Continue = 18;
    public const int Stop = 19;

    public static void Send(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
