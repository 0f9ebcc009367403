using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

// ./build.sh bench [filter] runs the quick job below: in-process, 3 warm-up and 8 measured
// iterations of 250 ms each, so the whole suite takes a few minutes on two cores.
// ./build.sh bench [filter] --full runs BenchmarkDotNet's default job instead: a separate
// process per benchmark, pilot-tuned invocation counts and as many iterations as its accuracy
// rules ask for (expect tens of minutes for the whole suite).
var full = Array.IndexOf(args, "--full") >= 0;
args = Array.FindAll(args, static a => a != "--full");

var job = full
    ? Job.Default.WithId("Full")
    : Job.Default
        .WithId("Quick")
        .WithToolchain(InProcessEmitToolchain.Instance)
        .WithLaunchCount(1)
        .WithWarmupCount(3)
        .WithIterationCount(8)
        .WithIterationTime(Perfolizer.Horology.TimeInterval.FromMilliseconds(250));

var config = DefaultConfig.Instance
    .AddJob(job)
    .AddDiagnoser(MemoryDiagnoser.Default)
    .AddColumn(StatisticColumn.Median, StatisticColumn.P95)
    .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(40));

BenchmarkSwitcher.FromAssembly(typeof(Gateway.Benchmarks.BenchModels).Assembly).Run(args, config);
