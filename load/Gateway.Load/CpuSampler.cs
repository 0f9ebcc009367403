using System.Diagnostics;
using System.Globalization;

namespace Gateway.Load;

/// <summary>CPU used during a span, in cores (1.0 = one core busy the whole time).</summary>
internal readonly record struct CpuUse(double Server, double Client, double Others)
{
    public static string Format(double cores) => double.IsNaN(cores) ? "-" : cores.ToString("0.00", CultureInfo.InvariantCulture);
}

/// <summary>
/// Reads <c>/proc/stat</c> and the server's and this process's <c>/proc/PID/stat</c> so every run
/// can say how the cores were shared: the server, this client, and everything else on the machine
/// (other people's builds on a shared box show up there, and so does wrk).
/// </summary>
internal readonly record struct CpuSnapshot(long Timestamp, long MachineBusy, long Self, long Server)
{
    // USER_HZ: the unit of /proc CPU times on Linux.
    private const double TicksPerSecond = 100;

    // Fields of the "cpu" line that count as busy: user nice system irq softirq steal.
    private static readonly int[] BusyFields = [1, 2, 3, 6, 7, 8];

    public static CpuSnapshot Take(int serverPid) =>
        new(Stopwatch.GetTimestamp(), MachineBusyTicks(), ProcessTicks(Environment.ProcessId), serverPid > 0 ? ProcessTicks(serverPid) : 0);

    public CpuUse Since(CpuSnapshot start)
    {
        var seconds = (Timestamp - start.Timestamp) / (double)Stopwatch.Frequency;
        if (seconds <= 0 || MachineBusy == 0)
        {
            return new CpuUse(double.NaN, double.NaN, double.NaN);
        }

        var server = (Server - start.Server) / TicksPerSecond / seconds;
        var client = (Self - start.Self) / TicksPerSecond / seconds;
        var machine = (MachineBusy - start.MachineBusy) / TicksPerSecond / seconds;
        return new CpuUse(server, client, Math.Max(0, machine - server - client));
    }

    /// <summary>Measures what other processes use over <paramref name="seconds"/>, in cores.</summary>
    public static double OthersOver(int serverPid, double seconds)
    {
        var start = Take(serverPid);
        Thread.Sleep(TimeSpan.FromSeconds(seconds));
        return Take(serverPid).Since(start).Others;
    }

    private static long MachineBusyTicks()
    {
        try
        {
            using var reader = new StreamReader("/proc/stat");
            var line = reader.ReadLine() ?? string.Empty;
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

            long busy = 0;
            foreach (var index in BusyFields)
            {
                busy += long.Parse(fields[index], CultureInfo.InvariantCulture);
            }

            return busy;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static long ProcessTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");

            // The command name may hold spaces; fields after it start at ") ". utime and stime are
            // fields 14 and 15, i.e. 12 and 13 after the state field.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }
}
