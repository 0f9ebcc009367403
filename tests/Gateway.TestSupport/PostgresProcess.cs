using System.Diagnostics;
using System.Globalization;

namespace Gateway.Testing;

/// <summary>
/// A PostgreSQL 15 server of the test's own (Debian's binaries, a throwaway data directory, a free
/// loopback port), to stop and start at will: the shared one of <see cref="TestServices"/> serves
/// every other test at the same time. As root, the server runs as the <c>postgres</c> user (initdb
/// and postgres refuse root), as <c>./build.sh</c> does.
/// </summary>
public sealed class PostgresProcess : IDisposable
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

        Port = FreePort.Next();
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
