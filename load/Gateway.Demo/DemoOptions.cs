using System.Globalization;

namespace Gateway.Demo;

/// <summary>One gateway replica: a name, its own address and its process id (for RSS).</summary>
internal sealed record Replica(string Name, Uri Address, int Pid);

/// <summary>Command-line options of the demo driver, parsed once at start.</summary>
internal sealed class DemoOptions
{
    public const string Usage = """
        usage: Gateway.Demo [options]   (./build.sh demo [--soak-seconds N] [--soak-rate R] starts the stack and passes the rest)

          --nginx URL                  nginx in front of the replicas
          --replica NAME=URL,PID       a replica, straight (repeat: two or more)
          --prometheus URL             the Prometheus server scraping the replicas
          --models DIR                 tests/fixtures/models (sample inputs)
          --admin-password-file PATH   the bootstrap admin's password
          --report PATH                where the printed report is also written
          --soak-seconds N             length of the soak (default 600; 0 skips it)
          --soak-rate R                requests per second during the soak, open model (default 200)
          --warmup-seconds N           the same load before the soak, its RSS growth not judged (default 30)
          --flat-mib M                 the most RSS a replica may gain over the soak's second half (default 5)
        """;

    public Uri Nginx { get; private set; } = null!;

    public List<Replica> Replicas { get; } = [];

    public Uri Prometheus { get; private set; } = null!;

    public string Models { get; private set; } = "tests/fixtures/models";

    public string AdminPassword { get; private set; } = string.Empty;

    public string? ReportPath { get; private set; }

    public int SoakSeconds { get; private set; } = 600;

    public double SoakRate { get; private set; } = 200;

    public int WarmupSeconds { get; private set; } = 30;

    public double FlatMiB { get; private set; } = 5;

    /// <summary>Parses <paramref name="args"/>; null and a message when something is wrong.</summary>
    public static DemoOptions? Parse(string[] args, out string problem)
    {
        var options = new DemoOptions();
        problem = string.Empty;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name is "-h" or "--help")
            {
                return null;
            }

            if (i + 1 >= args.Length)
            {
                problem = $"{name} needs a value";
                return null;
            }

            var value = args[++i];
            switch (name)
            {
                case "--nginx": options.Nginx = new Uri(value); break;
                case "--prometheus": options.Prometheus = new Uri(value); break;
                case "--models": options.Models = value; break;
                case "--admin-password-file": options.AdminPassword = File.ReadAllText(value).Trim(); break;
                case "--report": options.ReportPath = value; break;
                case "--replica":
                    var eq = value.IndexOf('=', StringComparison.Ordinal);
                    var comma = value.LastIndexOf(',');
                    if (eq <= 0 || comma < eq || !int.TryParse(value.AsSpan(comma + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
                    {
                        problem = $"--replica wants NAME=URL,PID (got '{value}')";
                        return null;
                    }

                    options.Replicas.Add(new Replica(value[..eq], new Uri(value[(eq + 1)..comma]), pid));
                    break;
                case "--soak-seconds":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
                    {
                        problem = $"--soak-seconds wants a whole number of seconds (got '{value}')";
                        return null;
                    }

                    options.SoakSeconds = seconds;
                    break;
                case "--warmup-seconds":
                    if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var warmup))
                    {
                        problem = $"--warmup-seconds wants a whole number of seconds (got '{value}')";
                        return null;
                    }

                    options.WarmupSeconds = warmup;
                    break;
                case "--soak-rate":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) || rate is <= 0 or > 100_000)
                    {
                        problem = $"--soak-rate wants requests per second above 0 (got '{value}')";
                        return null;
                    }

                    options.SoakRate = rate;
                    break;
                case "--flat-mib":
                    if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var mib) || mib <= 0)
                    {
                        problem = $"--flat-mib wants MiB above 0 (got '{value}')";
                        return null;
                    }

                    options.FlatMiB = mib;
                    break;
                default:
                    problem = $"unknown option {name}";
                    return null;
            }
        }

        problem = options.Nginx is null ? "--nginx is required"
            : options.Prometheus is null ? "--prometheus is required"
            : options.Replicas.Count < 2 ? "two --replica options are required"
            : options.AdminPassword.Length == 0 ? "--admin-password-file is required"
            : string.Empty;
        return problem.Length == 0 ? options : null;
    }
}
