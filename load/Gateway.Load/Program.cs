using System.Globalization;
using Gateway.Load;
using Gateway.Perf;

// The load runner: in-process baseline, start-up probes, then the scenarios against the
// published binary on loopback, cross-checked with wrk. See LoadOptions.Usage.
var options = LoadOptions.Parse(args, out var problem);
if (options is null)
{
    if (problem.Length > 0)
    {
        Console.Error.WriteLine("Gateway.Load: " + problem);
    }

    Console.Error.WriteLine(LoadOptions.Usage);
    return problem.Length > 0 ? 2 : 0;
}

var inv = CultureInfo.InvariantCulture;
var report = new LoadReport { Options = options, StartedUtc = DateTime.UtcNow };
Console.WriteLine($"machine: {MachineInfo.Describe()}");
Console.WriteLine($"binary:  {Path.GetFullPath(options.Binary)} {MachineInfo.Size(options.Binary)}");
Directory.CreateDirectory(options.Out);

var scenarios = options.Scenarios.ConvertAll(name => ScenarioCatalog.Create(name, options.Models));

if (options.InProcess)
{
    WaitQuiet(0, options, report);
    Console.WriteLine("in-process baseline (no server running) ...");
    int[] batches = options.Scenarios.Contains("binary-mobilenet") ? [1, 2, 4, 8, 16] : [];
    report.InProcess = InProcessBaseline.Measure(options.Models, options.DurationSeconds, batches);
    var p = report.InProcess.IdentityRun;
    Console.WriteLine(string.Create(inv, $"  identity Run: p50 {p.P50:0.00} µs, p99 {p.P99:0.00} µs over {p.Count} calls"));
    foreach (var batch in report.InProcess.Mobilenet)
    {
        Console.WriteLine(string.Create(inv, $"  mobilenet_v2 batch {batch.Batch}: {batch.ImagesPerSecond:0.0} images/s"));
    }
}

if (options.StartupRuns > 0)
{
    var empty = Directory.CreateTempSubdirectory("gateway-perf-empty-").FullName;
    try
    {
        var probes = new List<(string Repository, string Label)>();
        if (Directory.Exists(options.SampleRepository))
        {
            probes.Add((Path.GetFullPath(options.SampleRepository), "sample repository"));
        }
        else
        {
            report.Notes.Add($"--sample-repository {options.SampleRepository} does not exist; start-up measured without models only");
        }

        probes.Add((empty, "no models"));
        foreach (var (repository, label) in probes)
        {
            Console.WriteLine($"start-up, {label}: {options.StartupRuns} runs ...");
            var result = StartupProbe.Measure(options.Binary, repository, label, options.StartupRuns, options);
            report.Startup.Add(result);
            Console.WriteLine(string.Create(inv, $"  exec to ready median {result.MedianReadyMilliseconds:0.0} ms, idle RSS median {LoadReport.Mb(result.MedianIdleRssBytes)}"));
        }
    }
    finally
    {
        Directory.Delete(empty, recursive: true);
    }
}

var repositoryRoot = Samples.CreateRepository(options.Models, options.RepoModels);
try
{
    using var gateway = LoadGateway.Start(options.Binary, repositoryRoot, options);
    var ready = gateway.WaitReady(TimeSpan.FromSeconds(120));
    Console.WriteLine(string.Create(inv, $"load server pid {gateway.Pid} on {gateway.BaseAddress} ready in {ready.TotalMilliseconds:0} ms"));
    Thread.Sleep(1000);
    report.IdleRssBytes = gateway.Memory().Rss;

    using (var check = LoadModels.CreateClient(gateway.BaseAddress, 1))
    {
        foreach (var scenario in scenarios)
        {
            var error = scenario.GrpcRequest is null ? await scenario.CheckAsync(check) : await scenario.CheckGrpcAsync(gateway.GrpcAddress);
            if (error is not null)
            {
                Console.Error.WriteLine("Gateway.Load: pre-flight check failed: " + error);
                return 1;
            }
        }
    }

    var wrk = options.Wrk ? CrossCheckTools.FindOnPath("wrk") : null;
    if (options.Wrk && wrk is null)
    {
        report.Notes.Add("wrk is not installed (apt-get install wrk); no cross-check in this run");
        Console.WriteLine("wrk not found: no cross-check");
    }

    var h2load = options.H2load ? CrossCheckTools.FindOnPath("h2load") : null;
    if (options.H2load && h2load is null)
    {
        report.Notes.Add("h2load is not installed (apt-get install nghttp2-client); no h2load cross-check in this run");
        Console.WriteLine("h2load not found: no h2load cross-check");
    }

    for (var round = 1; round <= options.Repeat; round++)
    {
        var tag = options.Repeat > 1 ? $" #{round}" : string.Empty;
        foreach (var scenario in scenarios)
        {
            foreach (var callers in options.Concurrency)
            {
                WaitQuiet(gateway.Pid, options, report);
                Console.Write($"{scenario.Name}, closed x{callers}{tag} ... ");
                var cpu = CpuSnapshot.Take(gateway.Pid);
                var sampler = StartSampler(scenario, gateway.BaseAddress, options);
                var run = await LoadModels.RunClosedAsync(scenario, scenario.GrpcRequest is null ? gateway.BaseAddress : gateway.GrpcAddress, callers, options.WarmupSeconds, options.DurationSeconds);
                run.Cpu = CpuSnapshot.Take(gateway.Pid).Since(cpu);
                run.Stats = await StopSampler(sampler);
                run.Round = round;
                report.Runs.Add(run);
                PrintRun(run);
            }

            var rate = options.Rate;
            if (double.IsNaN(rate))
            {
                var highest = report.Runs.FindAll(r => r.Scenario == scenario && r.Model == "closed" && r.Round == round).MaxBy(static r => r.Callers);
                rate = highest is null ? 0 : Math.Max(1, Math.Round(highest.Rps * options.RateFraction));
            }

            // The open model drives HTTP connections only; gRPC scenarios run closed.
            if (rate > 0 && scenario.GrpcRequest is null)
            {
                WaitQuiet(gateway.Pid, options, report);
                Console.Write(string.Create(inv, $"{scenario.Name}, open {rate:0}/s{tag} ... "));
                var cpu = CpuSnapshot.Take(gateway.Pid);
                var sampler = StartSampler(scenario, gateway.BaseAddress, options);
                var run = await LoadModels.RunOpenAsync(scenario, gateway.BaseAddress, rate, options.Connections, options.WarmupSeconds, options.DurationSeconds);
                run.Cpu = CpuSnapshot.Take(gateway.Pid).Since(cpu);
                run.Stats = await StopSampler(sampler);
                run.Round = round;
                report.Runs.Add(run);
                PrintRun(run);
            }
        }

        foreach (var scenario in h2load is null ? [] : scenarios.FindAll(H2loadCrossCheck.Sends))
        {
            foreach (var connections in options.Concurrency)
            {
                WaitQuiet(gateway.Pid, options, report);
                Console.Write($"{scenario.Name}, h2load x{connections}{tag} ... ");
                var cpu = CpuSnapshot.Take(gateway.Pid);
                var result = await H2loadCrossCheck.RunAsync(h2load!, scenario, gateway.BaseAddress, gateway.GrpcAddress, connections, options.WarmupSeconds, options.DurationSeconds, options.Out);
                result.Cpu = CpuSnapshot.Take(gateway.Pid).Since(cpu);
                result.Round = round;
                report.CrossChecks.Add(result);
                Console.WriteLine(string.Create(inv, $"{result.Rps:0} rps, p50 {Percentiles.Format(result.Latency.P50)} µs, p99 {Percentiles.Format(result.Latency.P99)} µs, errors {result.Errors}"));
            }
        }

        if (wrk is null)
        {
            continue;
        }

        foreach (var scenario in scenarios.FindAll(static s => s.Name is "get" or "json-identity"))
        {
            foreach (var connections in options.Concurrency)
            {
                WaitQuiet(gateway.Pid, options, report);
                Console.Write($"{scenario.Name}, wrk x{connections}{tag} ... ");
                var cpu = CpuSnapshot.Take(gateway.Pid);
                var result = await WrkCrossCheck.RunAsync(wrk, scenario, gateway.BaseAddress, connections, options.DurationSeconds, options.Out);
                result.Cpu = CpuSnapshot.Take(gateway.Pid).Since(cpu);
                result.Round = round;
                report.CrossChecks.Add(result);
                Console.WriteLine(string.Create(inv, $"{result.Rps:0} rps, p50 {Percentiles.Format(result.Latency.P50)} µs, p99 {Percentiles.Format(result.Latency.P99)} µs, errors {result.Errors}"));
            }
        }
    }

    (report.RssAfterLoadBytes, report.PeakRssBytes) = gateway.Memory();
}
finally
{
    Directory.Delete(repositoryRoot, recursive: true);
}

Console.WriteLine();
Console.Write(report.Table());
Console.WriteLine();
foreach (var line in report.Ratios())
{
    Console.WriteLine(line.Replace("**", string.Empty, StringComparison.Ordinal));
}

report.WriteFiles(options.Out);
Console.WriteLine($"\nwritten: {Path.GetFullPath(Path.Combine(options.Out, "results.md"))}, report.html, *.svg, results.csv, server-timing.csv, *.hgrm");
return 0;

// The model's statistics, read during the run for the batch-size picture (scenarios with a model only).
static StatsSampler? StartSampler(Scenario scenario, Uri address, LoadOptions options) =>
    options.SampleStats && ScenarioCatalog.ModelOf(scenario.Name) is { } model ? StatsSampler.Start(address, model) : null;

static async Task<List<StatsSample>> StopSampler(StatsSampler? sampler)
{
    if (sampler is null)
    {
        return [];
    }

    await using (sampler)
    {
        return await sampler.StopAsync();
    }
}

// Waits (up to --quiet-wait) until other processes leave the cores alone, so a shared machine's
// builds do not land in the figures unnoticed; a run that could not wait is noted.
static void WaitQuiet(int serverPid, LoadOptions options, LoadReport report)
{
    if (options.QuietWaitSeconds <= 0)
    {
        return;
    }

    var deadline = DateTime.UtcNow.AddSeconds(options.QuietWaitSeconds);
    double others;
    while ((others = CpuSnapshot.OthersOver(serverPid, 0.5)) > 0.25)
    {
        if (DateTime.UtcNow > deadline)
        {
            var note = string.Create(CultureInfo.InvariantCulture, $"other processes were using {others:0.00} cores when a run had to start (waited {options.QuietWaitSeconds:0} s); see the 'other CPU' column");
            Console.WriteLine("  " + note);
            report.Notes.Add(note);
            return;
        }
    }
}

static void PrintRun(RunResult run)
{
    var p = Percentiles.Of(run.Data.Latency);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{run.Rps:0} rps, p50 {Percentiles.Format(p.P50)} µs, p99 {Percentiles.Format(p.P99)} µs, errors {run.ErrorCount}, CPU server {CpuUse.Format(run.Cpu.Server)} client {CpuUse.Format(run.Cpu.Client)} others {CpuUse.Format(run.Cpu.Others)}"));
    foreach (var (metric, histogram) in run.Data.ServerTiming)
    {
        var t = Percentiles.Of(histogram);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"    server-timing {metric}: p50 {Percentiles.Format(t.P50)} µs, p99 {Percentiles.Format(t.P99)} µs"));
    }
}
