using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using HdrHistogram;

namespace Gateway.Load;

/// <summary>Everything one invocation measured, for the console, results.md and the CSV files.</summary>
internal sealed class LoadReport
{
    public required LoadOptions Options { get; init; }

    public required DateTime StartedUtc { get; init; }

    public InProcessResult? InProcess { get; set; }

    public List<StartupResult> Startup { get; } = [];

    public long IdleRssBytes { get; set; }

    public long RssAfterLoadBytes { get; set; }

    public long PeakRssBytes { get; set; }

    public List<RunResult> Runs { get; } = [];

    public List<CrossCheckResult> CrossChecks { get; } = [];

    public List<string> Notes { get; } = [];

    private static readonly string[] TableHeader = ["scenario", "load", "requests", "rps", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs", "errors", "cpu srv/cli/oth"];

    private static CultureInfo Inv => CultureInfo.InvariantCulture;

    /// <summary>How many rounds of the scenarios were run (--repeat).</summary>
    public int Rounds => Options.Repeat;

    public RunResult? Find(string scenario, string model, int callers, int round) =>
        Runs.Find(r => r.Scenario.Name == scenario && r.Model == model && r.Callers == callers && r.Round == round);

    public CrossCheckResult? FindCrossCheck(string scenario, int connections, int round, string tool = "wrk") =>
        CrossChecks.Find(r => r.Tool == tool && r.Scenario.Name == scenario && r.Connections == connections && r.Round == round);

    /// <summary>The results table as printed on the console.</summary>
    public string Table()
    {
        var rows = new List<string[]> { TableHeader };
        foreach (var run in Runs)
        {
            var p = Percentiles.Of(run.Data.Latency);
            rows.Add([run.Scenario.Name, run.Load, run.Data.Requests.ToString(Inv), run.Rps.ToString("0", Inv),
                Percentiles.Format(p.P50), Percentiles.Format(p.P90), Percentiles.Format(p.P99), Percentiles.Format(p.P999), Percentiles.Format(p.Max), ErrorText(run), CpuText(run.Cpu)]);
        }

        foreach (var wrk in CrossChecks)
        {
            var p = wrk.Latency;
            rows.Add([wrk.Scenario.Name, $"{wrk.Tool} x{wrk.Connections}{(wrk.Round > 1 ? $" #{wrk.Round}" : string.Empty)}", wrk.Requests.ToString(Inv), wrk.Rps.ToString("0", Inv),
                Percentiles.Format(p.P50), Percentiles.Format(p.P90), Percentiles.Format(p.P99), Percentiles.Format(p.P999), Percentiles.Format(p.Max), wrk.Errors.ToString(Inv), CpuText(wrk.Cpu)]);
        }

        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        var builder = new StringBuilder();
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                builder.Append(i < 2 ? row[i].PadRight(widths[i]) : row[i].PadLeft(widths[i])).Append(i + 1 < row.Length ? "  " : "\n");
            }
        }

        return builder.ToString();
    }

    public void WriteFiles(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "results.md"), Markdown());
        File.WriteAllText(Path.Combine(directory, "results.csv"), Csv());
        File.WriteAllText(Path.Combine(directory, "server-timing.csv"), ServerTimingCsv());

        // The pictures: one self-contained page, and each picture as its own .svg for documents.
        File.WriteAllText(Path.Combine(directory, "report.html"), Pictures.HtmlText(this));
        foreach (var chart in Pictures.Charts(this))
        {
            File.WriteAllText(Path.Combine(directory, chart.Name + ".svg"), Pictures.SvgText(chart));
        }

        foreach (var run in Runs)
        {
            using var writer = new StreamWriter(Path.Combine(directory, $"{run.Scenario.Name}-{run.Model}-{(run.Model == "closed" ? run.Callers : (int)run.Rate)}-r{run.Round}.hgrm"));
            writer.WriteLine($"# {run.Scenario.Description}, {run.Load}; latency in microseconds");
            run.Data.Latency.OutputPercentileDistribution(writer, 5, 1000.0);
        }
    }

    private static string CpuText(CpuUse cpu) => $"{CpuUse.Format(cpu.Server)}/{CpuUse.Format(cpu.Client)}/{CpuUse.Format(cpu.Others)}";

    private static string ErrorText(RunResult run)
    {
        if (run.ErrorCount == 0)
        {
            return "0";
        }

        var parts = new List<string>();
        foreach (var (key, count) in run.Data.Errors)
        {
            parts.Add($"{key}:{count}");
        }

        if (run.NotSent > 0)
        {
            parts.Add($"not-sent:{run.NotSent}");
        }

        return string.Join(' ', parts);
    }

    private string Csv()
    {
        var builder = new StringBuilder("tool,round,scenario,model,callers,rate_rps,requests,seconds,rps,p50_us,p90_us,p99_us,p999_us,max_us,errors,error_detail,cpu_server,cpu_client,cpu_others\n");
        foreach (var run in Runs)
        {
            var p = Percentiles.Of(run.Data.Latency);
            builder.Append(Inv, $"runner,{run.Round},{run.Scenario.Name},{run.Model},{run.Callers},{run.Rate:0.##},{run.Data.Requests},{run.Seconds:0.###},{run.Rps:0.#},{p.P50:0.#},{p.P90:0.#},{p.P99:0.#},{p.P999:0.#},{p.Max:0.#},{run.ErrorCount},{ErrorText(run)},{run.Cpu.Server:0.00},{run.Cpu.Client:0.00},{run.Cpu.Others:0.00}\n");
        }

        foreach (var wrk in CrossChecks)
        {
            var p = wrk.Latency;
            builder.Append(Inv, $"{wrk.Tool},{wrk.Round},{wrk.Scenario.Name},closed,{wrk.Connections},0,{wrk.Requests},{wrk.Seconds:0.###},{wrk.Rps:0.#},{p.P50:0.#},{p.P90:0.#},{p.P99:0.#},{p.P999:0.#},{p.Max:0.#},{wrk.Errors},{(wrk.GrpcErrorsUncounted ? "grpc-failures-uncounted" : string.Empty)},{wrk.Cpu.Server:0.00},{wrk.Cpu.Client:0.00},{wrk.Cpu.Others:0.00}\n");
        }

        if (InProcess is { } inProcess)
        {
            var p = inProcess.IdentityRun;
            builder.Append(Inv, $"inprocess,0,identity-run,loop,1,0,{p.Count},0,0,{p.P50:0.###},{p.P90:0.###},{p.P99:0.###},{p.P999:0.###},{p.Max:0.#},0,,0,{inProcess.Cpu.Client:0.00},{inProcess.Cpu.Others:0.00}\n");
            foreach (var batch in inProcess.Mobilenet)
            {
                var b = batch.RunLatency;
                builder.Append(Inv, $"inprocess,0,mobilenet-batch{batch.Batch},loop,1,0,{batch.Runs},{batch.Seconds:0.###},{batch.ImagesPerSecond:0.#},{b.P50:0.#},{b.P90:0.#},{b.P99:0.#},{b.P999:0.#},{b.Max:0.#},0,images/s in rps,0,{inProcess.Cpu.Client:0.00},{inProcess.Cpu.Others:0.00}\n");
            }
        }

        return builder.ToString();
    }

    private string ServerTimingCsv()
    {
        var builder = new StringBuilder("round,scenario,model,callers,rate_rps,metric,count,p50_us,p90_us,p99_us,max_us\n");
        foreach (var run in Runs)
        {
            foreach (var (metric, histogram) in run.Data.ServerTiming)
            {
                var p = Percentiles.Of(histogram);
                builder.Append(Inv, $"{run.Round},{run.Scenario.Name},{run.Model},{run.Callers},{run.Rate:0.##},{metric},{p.Count},{p.P50:0.###},{p.P90:0.###},{p.P99:0.###},{p.Max:0.###}\n");
            }
        }

        return builder.ToString();
    }

    private string Markdown()
    {
        var o = Options;
        var md = new StringBuilder();
        md.Append("# Gateway load run").Append(o.Label.Length > 0 ? $": {o.Label}" : string.Empty).Append("\n\n");
        md.Append(Inv, $"- Date (UTC): {StartedUtc:yyyy-MM-dd HH:mm}\n");
        md.Append(Inv, $"- Command: `Gateway.Load {o.CommandLine}`\n");
        md.Append(Inv, $"- Machine: {MachineInfo.Describe()}\n");
        md.Append(Inv, $"- Client: this runner on {RuntimeInformation.FrameworkDescription}, HttpClient (SocketsHttpHandler), one pooled connection per closed-model caller; it shares the cores with the server, so compare ratios taken in this run.\n");
        md.Append(Inv, $"- Binary: `{Path.GetFullPath(o.Binary)}` {MachineInfo.Size(o.Binary)}, libonnxruntime.so beside it {MachineInfo.Size(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(o.Binary))!, "libonnxruntime.so"))}\n");
        md.Append(Inv, $"- Server: arguments `{string.Join(' ', o.ServerArgs)}` environment `{string.Join(' ', o.ServerEnv.Select(static kv => $"{kv.Key}={kv.Value}"))}`, repository of {string.Join(", ", o.RepoModels)}\n");
        md.Append(Inv, $"- Each run: {o.WarmupSeconds:0.#} s warm-up (not recorded), then {o.DurationSeconds:0.#} s measured. Latency is per request, first byte sent to last byte read; in the open model it counts from the request's scheduled send time.\n\n");

        md.Append("## Results\n\nCPU columns are in cores over the run (warm-up included): the server, this client, and every other process on the machine.\n\n| scenario | load | requests | rps | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | errors | server CPU | client CPU | other CPU |\n|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|\n");
        foreach (var run in Runs)
        {
            var p = Percentiles.Of(run.Data.Latency);
            md.Append(Inv, $"| {run.Scenario.Name} | {run.Load} | {run.Data.Requests} | {run.Rps:0} | {Percentiles.Format(p.P50)} | {Percentiles.Format(p.P90)} | {Percentiles.Format(p.P99)} | {Percentiles.Format(p.P999)} | {Percentiles.Format(p.Max)} | {ErrorText(run)} | {CpuUse.Format(run.Cpu.Server)} | {CpuUse.Format(run.Cpu.Client)} | {CpuUse.Format(run.Cpu.Others)} |\n");
        }

        md.Append("\nScenarios:\n");
        foreach (var scenario in Runs.Select(static r => r.Scenario).Distinct())
        {
            md.Append(Inv, $"- `{scenario.Name}`: {scenario.Description}\n");
        }

        var open = Runs.FindAll(static r => r.Model == "open");
        if (open.Count > 0)
        {
            md.Append("\nOpen model, split: send lag is how late the dispatcher sent a request after its scheduled time; service time runs from the actual send.\n\n| scenario | load | send lag p50 µs | send lag p99 µs | service p50 µs | service p99 µs |\n|---|---|--:|--:|--:|--:|\n");
            foreach (var run in open)
            {
                var lag = Percentiles.Of(run.Data.SendLag);
                var service = Percentiles.Of(run.Data.ServiceTime);
                md.Append(Inv, $"| {run.Scenario.Name} | {run.Load} | {Percentiles.Format(lag.P50)} | {Percentiles.Format(lag.P99)} | {Percentiles.Format(service.P50)} | {Percentiles.Format(service.P99)} |\n");
            }
        }

        var timed = Runs.FindAll(static r => r.Data.ServerTiming.Count > 0);
        md.Append("\n## Server-Timing\n\n");
        if (timed.Count == 0)
        {
            md.Append("No response carried a `Server-Timing` header.\n");
        }
        else
        {
            md.Append("Per metric as the server reported it; `total-compute` is the server's own time around the model.\n\n| scenario | load | metric | p50 µs | p99 µs |\n|---|---|---|--:|--:|\n");
            foreach (var run in timed)
            {
                foreach (var (metric, histogram) in run.Data.ServerTiming.OrderBy(static kv => kv.Key, StringComparer.Ordinal))
                {
                    var p = Percentiles.Of(histogram);
                    md.Append(Inv, $"| {run.Scenario.Name} | {run.Load} | {metric} | {Percentiles.Format(p.P50)} | {Percentiles.Format(p.P99)} |\n");
                }
            }
        }

        if (CrossChecks.Count > 0)
        {
            md.Append("\n## Cross-check with independent clients\n\nwrk 4 (one thread, closed model; get and JSON) and h2load (nghttp2, one thread, one request in flight per connection; binary over HTTP/1.1, gRPC over HTTP/2 cleartext) sent the same request to the same server in this run. wrk's percentiles come from its own histogram, h2load's from its per-request log in the runner's histogram; h2load's gRPC errors are the requests the model's statistics did not count as successes.\n\n| scenario | client | connections (round) | runner p50 µs | client p50 µs | runner p99 µs | client p99 µs | runner rps | client rps | client errors | server CPU | client+other CPU |\n|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
            foreach (var wrk in CrossChecks)
            {
                var mine = Find(wrk.Scenario.Name, "closed", wrk.Connections, wrk.Round);
                var p = mine is null ? default : Percentiles.Of(mine.Data.Latency);
                md.Append(Inv, $"| {wrk.Scenario.Name} | {wrk.Tool} | {wrk.Connections}{(wrk.Round > 1 ? $" (#{wrk.Round})" : string.Empty)} | {(mine is null ? "-" : Percentiles.Format(p.P50))} | {Percentiles.Format(wrk.Latency.P50)} | {(mine is null ? "-" : Percentiles.Format(p.P99))} | {Percentiles.Format(wrk.Latency.P99)} | {(mine is null ? "-" : mine.Rps.ToString("0", Inv))} | {wrk.Rps:0} | {wrk.Errors}{(wrk.GrpcErrorsUncounted ? " (gRPC failures uncounted: no model statistics)" : string.Empty)} | {CpuUse.Format(wrk.Cpu.Server)} | {CpuUse.Format(wrk.Cpu.Others)} |\n");
            }
        }

        md.Append("\n## In-process baseline and server\n\n");
        if (InProcess is { } inProcess)
        {
            var p = inProcess.IdentityRun;
            md.Append(Inv, $"- `IModelRunner.Run` on identity [1,16] in this process (before the server started), {inProcess.IdentityCalls} calls: p50 {p.P50:0.00} µs, p90 {p.P90:0.00} µs, p99 {p.P99:0.00} µs, max {p.Max:0} µs (CPU: this process {CpuUse.Format(inProcess.Cpu.Client)}, others {CpuUse.Format(inProcess.Cpu.Others)} cores)\n");
            foreach (var batch in inProcess.Mobilenet)
            {
                md.Append(Inv, $"- mobilenet_v2 raw session, batch {batch.Batch}: {batch.ImagesPerSecond:0.0} images/s ({batch.Runs} runs in {batch.Seconds:0.0} s, run p50 {batch.RunLatency.P50 / 1000:0.00} ms)\n");
            }
        }

        md.Append(Inv, $"- Load server RSS: {Mb(IdleRssBytes)} idle after ready, {Mb(RssAfterLoadBytes)} after the runs, peak {Mb(PeakRssBytes)}\n");
        foreach (var startup in Startup)
        {
            md.Append(Inv, $"- Start-up, {startup.Label} (`{startup.Repository}`), {startup.ReadyMilliseconds.Count} runs: exec to ready median {startup.MedianReadyMilliseconds:0.0} ms (runs: {string.Join(", ", startup.ReadyMilliseconds.Select(static v => v.ToString("0.0", Inv)))}); idle RSS median {Mb(startup.MedianIdleRssBytes)}\n");
        }

        var ratios = Ratios();
        if (ratios.Count > 0)
        {
            md.Append("\n## Ratios from this run\n\n");
            foreach (var line in ratios)
            {
                md.Append("- ").Append(line).Append('\n');
            }
        }

        if (Notes.Count > 0)
        {
            md.Append("\n## Notes\n\n");
            foreach (var note in Notes)
            {
                md.Append("- ").Append(note).Append('\n');
            }
        }

        return md.ToString();
    }

    /// <summary>
    /// The comparisons the performance targets are stated in, where this run has both sides. With
    /// several rounds (--repeat) each ratio is taken within a round and the median is reported.
    /// </summary>
    public List<string> Ratios()
    {
        var lines = new List<string>();
        var sat = Options.Saturation;
        double P50(RunResult r) => Percentiles.Of(r.Data.Latency).P50;
        double P99(RunResult r) => Percentiles.Of(r.Data.Latency).P99;

        AddRatio(lines, "JSON infer p50 / GET p50 at 1 caller", "µs", round => Pair(Find("json-identity", "closed", 1, round), Find("get", "closed", 1, round), P50));
        AddRatio(lines, "binary infer p50 / GET p50 at 1 caller", "µs", round => Pair(Find("binary-identity", "closed", 1, round), Find("get", "closed", 1, round), P50));
        if (InProcess is { } inProcess)
        {
            var run = inProcess.IdentityRun;
            AddRatio(lines, "JSON infer p50 over loopback / in-process `Run` p50 (identity, 1 caller)", "µs", round => Find("json-identity", "closed", 1, round) is { } j ? (P50(j), run.P50) : null, difference: true);
            AddRatio(lines, "JSON infer p99 over loopback / in-process `Run` p99 (identity, 1 caller)", "µs", round => Find("json-identity", "closed", 1, round) is { } j ? (P99(j), run.P99) : null, difference: true);
        }

        foreach (var name in new[] { "json-identity", "binary-identity" })
        {
            AddRatio(lines, $"{name} rps / GET rps at {sat} callers", "rps", round => Pair(Find(name, "closed", sat, round), Find("get", "closed", sat, round), static r => r.Rps));
        }

        if (InProcess is { Mobilenet.Count: > 0 } raw)
        {
            foreach (var batch in raw.Mobilenet)
            {
                AddRatio(lines, $"mobilenet_v2 images/s through the server at {sat} callers / raw session at batch {batch.Batch}", "img/s", round => Find("binary-mobilenet", "closed", sat, round) is { } m ? (m.Rps, batch.ImagesPerSecond) : null);
            }
        }

        // gRPC against REST binary on the same server, in the same round (docs/GRPC.md targets:
        // p50 at 1 caller no worse; mobilenet rps at 16 callers within 5%).
        AddRatio(lines, "gRPC identity p50 / REST binary identity p50 at 1 caller", "µs", round => Pair(Find("grpc-binary-identity", "closed", 1, round), Find("binary-identity", "closed", 1, round), P50));
        AddRatio(lines, $"gRPC mobilenet rps / REST binary mobilenet rps at {sat} callers", "rps", round => Pair(Find("grpc-mobilenet", "closed", sat, round), Find("binary-mobilenet", "closed", sat, round), static r => r.Rps));

        AddRatio(lines, "wrk: JSON infer p50 / GET p50 at 1 connection", "µs", round => PairCrossCheck(FindCrossCheck("json-identity", 1, round), FindCrossCheck("get", 1, round), static w => w.Latency.P50));
        AddRatio(lines, $"wrk: JSON infer rps / GET rps at {sat} connections", "rps", round => PairCrossCheck(FindCrossCheck("json-identity", sat, round), FindCrossCheck("get", sat, round), static w => w.Rps));

        // The same gRPC targets with one client for both protocols (h2load): the server's part.
        AddRatio(lines, "h2load: gRPC identity p50 / REST binary identity p50 at 1 connection", "µs", round => PairCrossCheck(FindCrossCheck("grpc-binary-identity", 1, round, "h2load"), FindCrossCheck("binary-identity", 1, round, "h2load"), static w => w.Latency.P50));
        AddRatio(lines, $"h2load: gRPC mobilenet rps / REST binary mobilenet rps at {sat} connections", "rps", round => PairCrossCheck(FindCrossCheck("grpc-mobilenet", sat, round, "h2load"), FindCrossCheck("binary-mobilenet", sat, round, "h2load"), static w => w.Rps));
        return lines;
    }

    private static (double, double)? Pair(RunResult? a, RunResult? b, Func<RunResult, double> value) =>
        a is null || b is null ? null : (value(a), value(b));

    private static (double, double)? PairCrossCheck(CrossCheckResult? a, CrossCheckResult? b, Func<CrossCheckResult, double> value) =>
        a is null || b is null ? null : (value(a), value(b));

    private void AddRatio(List<string> lines, string label, string unit, Func<int, (double Numerator, double Denominator)?> perRound, bool difference = false)
    {
        var pairs = new List<(double Numerator, double Denominator)>();
        for (var round = 1; round <= Rounds; round++)
        {
            if (perRound(round) is { } pair && pair.Denominator > 0)
            {
                pairs.Add(pair);
            }
        }

        if (pairs.Count == 0)
        {
            return;
        }

        var ratios = pairs.ConvertAll(static p => p.Numerator / p.Denominator);
        var numerator = StartupResult.Median(pairs.ConvertAll(static p => p.Numerator));
        var denominator = StartupResult.Median(pairs.ConvertAll(static p => p.Denominator));
        var extra = difference ? string.Create(Inv, $", difference {numerator - denominator:0.0} {unit}") : string.Empty;
        lines.Add(pairs.Count == 1
            ? string.Create(Inv, $"{label}: {numerator:0.0#} / {denominator:0.0#} {unit} = **{ratios[0]:0.00}**{extra}")
            : string.Create(Inv, $"{label}: median **{StartupResult.Median(ratios):0.00}** over {pairs.Count} rounds ({string.Join(", ", ratios.Select(static r => r.ToString("0.00", Inv)))}); medians {numerator:0.0#} / {denominator:0.0#} {unit}{extra}"));
    }

    public static string Mb(double bytes) => bytes <= 0 ? "-" : string.Create(Inv, $"{bytes / (1024.0 * 1024.0):0.0} MiB");
}

/// <summary>The machine, as the reports state it.</summary>
internal static class MachineInfo
{
    public static string Describe()
    {
        var cpu = "unknown CPU";
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal))
                {
                    cpu = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                    break;
                }
            }
        }
        catch (IOException)
        {
        }

        var kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : RuntimeInformation.OSDescription;
        return $"{Environment.ProcessorCount} cores (nproc), {cpu}, Linux {kernel}, {RuntimeInformation.OSArchitecture}";
    }

    public static string Size(string path) =>
        File.Exists(path) ? string.Create(CultureInfo.InvariantCulture, $"{new FileInfo(path).Length / (1024.0 * 1024.0):0.0} MiB ({new FileInfo(path).Length} bytes)") : "(missing)";
}
