using System.Globalization;
using Gateway.Perf;

namespace Gateway.Load;

/// <summary>Command-line options of the load runner, parsed and checked once at start.</summary>
internal sealed class LoadOptions
{
    public const string Usage = """
        usage: Gateway.Load [options]   (./build.sh load [options] passes --binary, --models and --out)

          --binary PATH          gateway binary to start (default artifacts/publish/gateway/gateway)
          --models DIR           fixtures with NAME.onnx and samples (default tests/fixtures/models)
          --out DIR              where results.md, report.html (pictures), *.svg, results.csv, server-timing.csv and
                                 *.hgrm go (default artifacts/load)
          --scenarios LIST       comma list of get, json-identity, binary-identity, binary-mobilenet, binary-mobilenet-batched, grpc-binary-identity, grpc-mobilenet (default: all)
          --duration S           measured seconds per run (default 5)
          --warmup S             warm-up seconds before each run, not recorded (default 2)
          --concurrency LIST     closed-model caller counts; 'sat' is --saturation (default 1,sat)
          --saturation N         callers for the saturation run (default 16)
          --rate R|auto|off      open model at R requests/s; auto = --rate-fraction of the scenario's closed
                                 saturation throughput measured in the same round (default auto)
          --rate-fraction F      for --rate auto (default 0.25: the open client spends two to three times
                                 the closed client's CPU per request, and shares the cores with the server)
          --connections N        connections the open model may use (default 32)
          --wrk on|off           cross-check get and json-identity with wrk (default on)
          --h2load on|off        cross-check the binary-* and grpc-* scenarios with h2load, one client in C for
                                 HTTP/1.1 and HTTP/2 (Debian's nghttp2-client; default off)
          --inprocess on|off     in-process ONNX Runtime baseline before the server starts (default on)
          --startup-runs N       exec-to-ready runs with and without models, median reported (default 5; 0 skips)
          --sample-repository D  repository for the 'with models' start-up figure (default models)
          --repo-models LIST     fixture models in the load server's repository (default identity,add_sub,mobilenet_v2)
          --server-arg ARG       extra gateway argument, repeatable (e.g. --server-arg=--Logging:LogLevel:Default=Warning);
                                 the gateway always gets --Auth:Mode=none first, which a later --server-arg may override
          --server-env K=V       extra gateway environment variable, repeatable
          --server-log PATH      where the gateway's console output goes (default /dev/null)
          --quiet-wait S         before each run, wait up to S seconds for other processes to use under
                                 0.25 cores (the box may be shared; default 5; 0 skips)
          --repeat N             run every scenario N times, interleaved, and report each ratio as the median
                                 of the per-round ratios (default 1)
          --sample-stats on|off  read the model's statistics every 0.25 s during a run, for the batch-size
                                 picture (default on)
          --label TEXT           a label written into the reports
        """;

    public string Binary { get; private set; } = "artifacts/publish/gateway/gateway";

    public string Models { get; private set; } = "tests/fixtures/models";

    public string Out { get; private set; } = "artifacts/load";

    public List<string> Scenarios { get; } = [.. ScenarioCatalog.Names];

    public double DurationSeconds { get; private set; } = 5;

    public double WarmupSeconds { get; private set; } = 2;

    public List<int> Concurrency { get; } = [];

    public int Saturation { get; private set; } = 16;

    /// <summary>Open-model rate: a number, <see cref="double.NaN"/> for auto, 0 for off.</summary>
    public double Rate { get; private set; } = double.NaN;

    public int Connections { get; private set; } = 32;

    public double RateFraction { get; private set; } = 0.25;

    public bool Wrk { get; private set; } = true;

    /// <summary>Whether the binary and gRPC scenarios are cross-checked with h2load.</summary>
    public bool H2load { get; private set; }

    public bool InProcess { get; private set; } = true;

    public int StartupRuns { get; private set; } = 5;

    public string SampleRepository { get; private set; } = "models";

    public List<string> RepoModels { get; } = ["identity", "add_sub", "mobilenet_v2", "mobilenet_v2" + Samples.BatchedSuffix];

    public List<string> ServerArgs { get; } = [];

    public List<KeyValuePair<string, string>> ServerEnv { get; } = [];

    public string ServerLog { get; private set; } = "/dev/null";

    public string Label { get; private set; } = string.Empty;

    public double QuietWaitSeconds { get; private set; } = 5;

    public int Repeat { get; private set; } = 1;

    public bool SampleStats { get; private set; } = true;

    /// <summary>The arguments as given, for the reports.</summary>
    public string CommandLine { get; private set; } = string.Empty;

    /// <summary>Parses <paramref name="args"/>; returns null and the first problem on bad input.</summary>
    public static LoadOptions? Parse(string[] args, out string error)
    {
        var options = new LoadOptions { CommandLine = string.Join(' ', args) };
        var concurrency = "1,sat";
        error = string.Empty;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? inline = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 0)
            {
                inline = arg[(eq + 1)..];
                arg = arg[..eq];
            }

            if (arg is "-h" or "--help")
            {
                error = string.Empty;
                return null;
            }

            if (inline is null && i + 1 >= args.Length)
            {
                error = $"{arg} needs a value";
                return null;
            }

            var value = inline ?? args[++i];
            switch (arg)
            {
                case "--binary": options.Binary = value; break;
                case "--models": options.Models = value; break;
                case "--out": options.Out = value; break;
                case "--scenarios":
                    options.Scenarios.Clear();
                    foreach (var name in Split(value))
                    {
                        if (!ScenarioCatalog.Names.Contains(name))
                        {
                            error = $"--scenarios: unknown scenario '{name}' (known: {string.Join(", ", ScenarioCatalog.Names)})";
                            return null;
                        }

                        options.Scenarios.Add(name);
                    }

                    break;
                case "--duration": if (!TryPositive(arg, value, out var d, out error)) { return null; } options.DurationSeconds = d; break;
                case "--warmup": if (!TryNonNegative(arg, value, out var w, out error)) { return null; } options.WarmupSeconds = w; break;
                case "--concurrency": concurrency = value; break;
                case "--saturation": if (!TryCount(arg, value, 1, 4096, out var s, out error)) { return null; } options.Saturation = s; break;
                case "--rate":
                    if (value == "auto")
                    {
                        options.Rate = double.NaN;
                    }
                    else if (value == "off")
                    {
                        options.Rate = 0;
                    }
                    else if (!TryPositive(arg, value, out var r, out error))
                    {
                        return null;
                    }
                    else
                    {
                        options.Rate = r;
                    }

                    break;
                case "--rate-fraction": if (!TryPositive(arg, value, out var rf, out error)) { return null; } options.RateFraction = rf; break;
                case "--connections": if (!TryCount(arg, value, 1, 4096, out var c, out error)) { return null; } options.Connections = c; break;
                case "--wrk": if (!TryOnOff(arg, value, out var wrk, out error)) { return null; } options.Wrk = wrk; break;
                case "--h2load": if (!TryOnOff(arg, value, out var h2load, out error)) { return null; } options.H2load = h2load; break;
                case "--sample-stats": if (!TryOnOff(arg, value, out var ss, out error)) { return null; } options.SampleStats = ss; break;
                case "--inprocess": if (!TryOnOff(arg, value, out var ip, out error)) { return null; } options.InProcess = ip; break;
                case "--startup-runs": if (!TryCount(arg, value, 0, 1000, out var sr, out error)) { return null; } options.StartupRuns = sr; break;
                case "--sample-repository": options.SampleRepository = value; break;
                case "--repo-models": options.RepoModels.Clear(); options.RepoModels.AddRange(Split(value)); break;
                case "--server-arg": options.ServerArgs.Add(value); break;
                case "--server-env":
                    var kv = value.IndexOf('=', StringComparison.Ordinal);
                    if (kv <= 0)
                    {
                        error = $"--server-env wants NAME=VALUE (got '{value}')";
                        return null;
                    }

                    options.ServerEnv.Add(new(value[..kv], value[(kv + 1)..]));
                    break;
                case "--server-log": options.ServerLog = value; break;
                case "--label": options.Label = value; break;
                case "--repeat": if (!TryCount(arg, value, 1, 100, out var rep, out error)) { return null; } options.Repeat = rep; break;
                case "--quiet-wait": if (!TryNonNegative(arg, value, out var q, out error)) { return null; } options.QuietWaitSeconds = q; break;
                default:
                    error = $"unknown option '{arg}'";
                    return null;
            }
        }

        foreach (var part in Split(concurrency))
        {
            if (part == "sat")
            {
                options.Concurrency.Add(options.Saturation);
            }
            else if (TryCount("--concurrency", part, 1, 4096, out var n, out error))
            {
                options.Concurrency.Add(n);
            }
            else
            {
                return null;
            }
        }

        if (!File.Exists(options.Binary))
        {
            error = $"--binary: {Path.GetFullPath(options.Binary)} does not exist (run ./build.sh publish)";
            return null;
        }

        if (!Directory.Exists(options.Models))
        {
            error = $"--models: {Path.GetFullPath(options.Models)} is not a directory";
            return null;
        }

        foreach (var model in options.RepoModels)
        {
            var fixture = model.EndsWith(Samples.BatchedSuffix, StringComparison.Ordinal) ? model[..^Samples.BatchedSuffix.Length] : model;
            if (!File.Exists(Path.Combine(options.Models, fixture + ".onnx")))
            {
                error = $"--repo-models: {Path.Combine(Path.GetFullPath(options.Models), fixture + ".onnx")} does not exist";
                return null;
            }
        }

        foreach (var scenario in options.Scenarios)
        {
            var model = ScenarioCatalog.ModelOf(scenario);
            if (model is not null && !options.RepoModels.Contains(model))
            {
                error = $"scenario {scenario} needs model {model} in --repo-models";
                return null;
            }
        }

        return options;
    }

    private static string[] Split(string value) => value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static bool TryPositive(string name, string value, out double result, out string error)
    {
        error = string.Empty;
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out result) && result > 0 && double.IsFinite(result))
        {
            return true;
        }

        error = $"{name} must be a positive number (got '{value}')";
        return false;
    }

    private static bool TryNonNegative(string name, string value, out double result, out string error)
    {
        error = string.Empty;
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out result) && result >= 0 && double.IsFinite(result))
        {
            return true;
        }

        error = $"{name} must be a number of zero or more (got '{value}')";
        return false;
    }

    private static bool TryCount(string name, string value, int min, int max, out int result, out string error)
    {
        error = string.Empty;
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out result) && result >= min && result <= max)
        {
            return true;
        }

        error = $"{name} must be an integer from {min} to {max} (got '{value}')";
        return false;
    }

    private static bool TryOnOff(string name, string value, out bool result, out string error)
    {
        error = string.Empty;
        result = value == "on";
        if (value is "on" or "off")
        {
            return true;
        }

        error = $"{name} must be on or off (got '{value}')";
        return false;
    }
}
