using System.Globalization;

namespace Gateway.Hosting;

/// <summary>
/// The gateway's own command line, checked before a host is built: <c>--help</c> and
/// <c>--version</c> answer and exit 0; an unknown or misspelled flag, or a flag's bad value, exits 2
/// with one line naming it (and the nearest known flag) instead of being ignored. Everything
/// ASP.NET Core's configuration accepts keeps working: <c>--Section:Key value</c>,
/// <c>--Section:Key=value</c> and <c>Section:Key=value</c> for any key, and the flags below.
/// </summary>
public static class CommandLine
{
    /// <summary>A flag of the gateway's own, with the configuration key it sets and how its value is checked.</summary>
    private sealed record Flag(string Name, string Key, string Value, string Help, Func<string, string?> Check);

    private static readonly Flag[] s_flags =
    [
        new("--urls", "urls", "URLS", $"addresses to listen on, ';'-separated (default {GatewayHost.DefaultUrl})", CheckUrls),
        new("--model-repository", "Gateway:ModelRepository", "DIR", "the model repository directory (default models)", CheckNotEmpty),
        new("--grpc-port", "Grpc:Port", "N", "port of the V2 gRPC service (Open Inference Protocol), as Triton names it", CheckPort),
        new("--environment", "environment", "NAME", "ASP.NET Core environment, which picks appsettings.NAME.json (default Production)", CheckNotEmpty),
        new("--contentRoot", "contentRoot", "DIR", "the directory appsettings.json is read from (default the working directory)", CheckNotEmpty),
    ];

    /// <summary>Host keys ASP.NET Core reads without a section, accepted as they are.</summary>
    private static readonly string[] s_hostKeys = ["http_ports", "https_ports", "applicationName"];

    /// <summary>
    /// The configuration keys <c>--help</c> lists beside the flags: the ones a first start needs.
    /// Every other key is in docs/CONFIGURATION.md.
    /// </summary>
    private static readonly (string Key, string Help)[] s_keys =
    [
        ("Auth:Mode", "jwt (default) or none (no authentication: only behind a trusted proxy)"),
        ("Auth:BootstrapAdminPassword", "the first admin's password, read on the first start (use the environment: Auth__BootstrapAdminPassword)"),
        ("Telemetry:LogFormat", "json (default) or text"),
        ("Gateway:MaxRequestBodyBytes", "largest request body (default 67108864)"),
        ("Gateway:PollIntervalSeconds", "rescan the model repository every N seconds (default 0: off)"),
        ("Gateway:StrictReadiness", "readiness also requires that no model failed to load (default false)"),
        ("Storage:Postgres", "PostgreSQL connection string for users and keys (default: SQLite in data/)"),
        ("Redis:Configuration", "Redis for revocation and rate limits across replicas (default: none)"),
    ];

    /// <summary>Switch mappings for the configuration's command-line source: each flag to its key.</summary>
    public static IDictionary<string, string> SwitchMappings()
    {
        var mappings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var flag in s_flags)
        {
            if (flag.Key.Contains(':', StringComparison.Ordinal))
            {
                mappings[flag.Name] = flag.Key;
            }
        }

        return mappings;
    }

    /// <summary>
    /// Answers <c>--help</c> and <c>--version</c> and checks every argument. Returns the exit code
    /// when the process should end here (0 after help or version, 2 for a bad argument), or null
    /// when the arguments are fine and the server should start.
    /// </summary>
    public static int? Handle(string[] args, IReadOnlyList<(string Name, string Platform)> backends, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        foreach (var arg in args)
        {
            switch (arg)
            {
                case "--help" or "-h" or "-?":
                    output.Write(Usage());
                    return 0;
                case "--version":
                    output.WriteLine(Version(backends));
                    return 0;
            }
        }

        var problem = Check(args);
        if (problem is null)
        {
            return null;
        }

        error.WriteLine($"gateway: {problem} (see gateway --help)");
        return 2;
    }

    /// <summary>The first problem with the arguments, or null.</summary>
    internal static string? Check(string[] args)
    {
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith('-'))
            {
                // Configuration's own form: Section:Key=value.
                if (arg.Contains('=', StringComparison.Ordinal) && arg.IndexOf('=', StringComparison.Ordinal) > 0)
                {
                    continue;
                }

                return $"unexpected argument '{arg}'";
            }

            var body = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg[1..];
            var equals = body.IndexOf('=', StringComparison.Ordinal);
            var name = equals >= 0 ? body[..equals] : body;
            string? value = equals >= 0 ? body[(equals + 1)..] : null;
            if (name.Length == 0)
            {
                return $"'{arg}' is not an option";
            }

            if (name == "probe")
            {
                return "'--probe' must be the first argument (gateway --probe [URL])";
            }

            var flag = Find("--" + name);
            var isKey = name.Contains(':', StringComparison.Ordinal) || flag is not null || Array.Exists(s_hostKeys, k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase));
            if (!isKey)
            {
                var nearest = Nearest("--" + name);
                return nearest is null ? $"unknown option '{arg}'" : $"unknown option '{arg}'; did you mean {nearest}?";
            }

            if (value is null)
            {
                if (i + 1 >= args.Length)
                {
                    return $"option '{arg}' needs a value";
                }

                value = args[++i];
            }

            if (flag is not null && flag.Check(value) is { } bad)
            {
                return $"option '{flag.Name}': {bad}";
            }
        }

        return null;
    }

    /// <summary>What <c>--help</c> prints.</summary>
    public static string Usage()
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("Usage: gateway [options] [--Section:Key value ...]");
        text.AppendLine();
        text.AppendLine("An inference server for the Open Inference Protocol (KServe V2) over a Triton-style model repository.");
        text.AppendLine();
        text.AppendLine("Options:");
        foreach (var flag in s_flags)
        {
            var left = $"  {flag.Name} {flag.Value}";
            text.Append(left.PadRight(28)).Append(flag.Help).Append(" [").Append(flag.Key).AppendLine("]");
        }

        text.Append("  --probe [URL]".PadRight(28)).AppendLine($"GET URL (default {Probe.DefaultUrl}); exit 0 on 200, else 1 (container health checks)");
        text.Append("  --version".PadRight(28)).AppendLine("print the version and the backends compiled in");
        text.Append("  -h, --help".PadRight(28)).AppendLine("print this help");
        text.AppendLine();
        text.AppendLine("Configuration keys (command line --Key value, environment Key with '__' for ':', or appsettings.json):");
        foreach (var (key, help) in s_keys)
        {
            text.Append("  ").Append(key.PadRight(30)).AppendLine(help);
        }

        text.AppendLine();
        text.AppendLine("Every key: docs/CONFIGURATION.md. A bad value stops the start with exit code 2; an address in use, with 3.");
        return text.ToString();
    }

    /// <summary>What <c>--version</c> prints: the version and the backends compiled into this binary.</summary>
    public static string Version(IReadOnlyList<(string Name, string Platform)> backends)
    {
        ArgumentNullException.ThrowIfNull(backends);
        var names = new string[backends.Count];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = $"{backends[i].Name} ({backends[i].Platform})";
        }

        return $"gateway {Protocol.V2Endpoints.ServerVersion}; backends: {string.Join(", ", names)}";
    }

    private static Flag? Find(string name)
    {
        foreach (var flag in s_flags)
        {
            // The configuration's keys are case-insensitive, so the flags are too.
            if (string.Equals(flag.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return flag;
            }
        }

        return null;
    }

    /// <summary>The known flag closest to a misspelling (edit distance at most a third of its length), or null.</summary>
    private static string? Nearest(string name)
    {
        string[] known = [.. s_flags.Select(static f => f.Name), "--probe", "--version", "--help"];
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = Distance(name.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return bestDistance <= Math.Max(2, best!.Length / 3) ? best : null;
    }

    /// <summary>Levenshtein distance (flags are short; two rows suffice).</summary>
    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    private static string? CheckNotEmpty(string value) =>
        string.IsNullOrWhiteSpace(value) ? "needs a value that is not empty" : null;

    private static string? CheckPort(string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is >= 1 and <= 65535
            ? null
            : $"'{value}' is not a port number from 1 to 65535";

    private static string? CheckUrls(string value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return "needs at least one address, such as http://0.0.0.0:8080";
        }

        foreach (var part in value.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Kestrel also takes http://*:8080 and http://+:8080, which Uri does not parse.
            var normalised = part.Replace("://*", "://localhost", StringComparison.Ordinal).Replace("://+", "://localhost", StringComparison.Ordinal);
            if (!Uri.TryCreate(normalised, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            {
                return $"'{part}' is not an http:// or https:// address";
            }
        }

        return null;
    }
}
