namespace Gateway.Load;

/// <summary>What an independent client (wrk or h2load) reported for one run, latencies in microseconds.</summary>
internal sealed class CrossCheckResult
{
    /// <summary>The client that produced it: wrk, or h2load (<see cref="H2loadCrossCheck"/>).</summary>
    public required string Tool { get; init; }

    public required Scenario Scenario { get; init; }

    public required int Connections { get; init; }

    public required Percentiles Latency { get; init; }

    public required long Requests { get; init; }

    public required double Seconds { get; init; }

    /// <summary>Non-2xx answers plus socket errors (and, for h2load's gRPC runs, failed calls).</summary>
    public required long Errors { get; init; }

    /// <summary>A gRPC run whose failed calls could not be counted: the server has no model statistics.</summary>
    public bool GrpcErrorsUncounted { get; init; }

    public double Rps => Requests / Seconds;

    /// <summary>Which round of --repeat this run belongs to, from 1.</summary>
    public int Round { get; set; } = 1;

    /// <summary>How the cores were used; the client itself counts under others.</summary>
    public CpuUse Cpu { get; set; }
}

/// <summary>Finding the independent clients.</summary>
internal static class CrossCheckTools
{
    /// <summary>A program on PATH, or null.</summary>
    public static string? FindOnPath(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            var candidate = Path.Combine(directory, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
