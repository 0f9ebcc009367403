using Gateway.Abstractions;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Scheduling.Tests;

/// <summary>
/// The durations the statistics extension reports, through a real scheduler and its execution
/// thread on a fake clock: the window and each run take exactly what the test says, so every
/// nanosecond is known.
/// </summary>
public sealed class SchedulerStatsTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_window = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan s_run = TimeSpan.FromMilliseconds(7);
    private readonly FakeTimeProvider _time = new();
    private readonly EchoRunner _runner;
    private readonly ModelScheduler _scheduler;

    public SchedulerStatsTests()
    {
        _runner = new EchoRunner { OnRun = () => _time.Advance(s_run) };
        var policy = new SchedulingPolicy
        {
            Batching = true,
            MaxBatchSize = 8,
            PreferredBatchSizes = [8],
            MaxQueueDelay = s_window,
            MaxQueueSize = 64,
        };
        _scheduler = new SchedulerFactory(_time, NullLogger.Instance).Create("echo", _runner, policy, observer: null);
    }

    public void Dispose() => _scheduler.Dispose();

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    /// <summary>Submits requests of the given rows, lets the window pass, and waits for all of them.</summary>
    private async Task<OutcomeStatus[]> BatchAsync(params int[] rows)
    {
        var items = rows.Select((r, i) => _scheduler.Submit(new PlainRequest([PlainRequest.Floats(r, 2, i * 10)]), default)).ToArray();
        _time.Advance(s_window);
        var outcomes = new OutcomeStatus[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            outcomes[i] = await items[i].Completion.AsTask().WaitAsync(s_wait);
            await _scheduler.ReleaseAsync(items[i]);
        }

        return outcomes;
    }

    [Fact]
    public async Task Succeeded_CountsEachRequestsQueueAndItsBatchsRun_AndTheBatchOnceAtItsSize()
    {
        Assert.All(await BatchAsync(1, 2), o => Assert.Equal(OutcomeStatus.Succeeded, o));
        Assert.All(await BatchAsync(3), o => Assert.Equal(OutcomeStatus.Succeeded, o));

        var stats = _scheduler.Stats;
        Assert.Equal(3, stats.Succeeded);
        Assert.Equal(0, stats.Failed);
        // Per request: waited the window, then its batch's run.
        Assert.Equal(3 * Ticks(s_window), stats.QueueTicks);
        Assert.Equal(3 * Ticks(s_run), stats.RequestComputeTicks);
        Assert.Equal(3 * (Ticks(s_window) + Ticks(s_run)), stats.SuccessTicks);
        // Per run: two runs of 3 rows each, 7 ms each.
        Assert.Equal(2, stats.Executions);
        Assert.Equal(2 * Ticks(s_run), stats.ComputeTicks);
        var executions = stats.ReadExecutions();
        Assert.Equal(2, executions.BatchSizes[3]);
        Assert.Equal(2 * Ticks(s_run), executions.BatchComputeTicks[3]);
        Assert.Equal(0, executions.BatchComputeTicks[1]);
        Assert.Equal(6, executions.ExecutedRows);
    }

    [Fact]
    public async Task Failed_CountsTheRequestsTime_NotTheirQueueOrCompute()
    {
        Assert.All(await BatchAsync(1), o => Assert.Equal(OutcomeStatus.Succeeded, o));
        _runner.FailWith = "injected";
        Assert.All(await BatchAsync(1, 1), o => Assert.Equal(OutcomeStatus.Failed, o));

        var stats = _scheduler.Stats;
        Assert.Equal(1, stats.Succeeded);
        Assert.Equal(Ticks(s_window) + Ticks(s_run), stats.SuccessTicks);
        Assert.Equal(2, stats.Failed);
        Assert.Equal(2 * (Ticks(s_window) + Ticks(s_run)), stats.FailTicks);
        Assert.Equal(Ticks(s_window), stats.QueueTicks);
        Assert.Equal(Ticks(s_run), stats.RequestComputeTicks);
        // The failed run is still a run of the backend at its size.
        Assert.Equal(1, stats.ReadExecutions().BatchSizes[2]);
        Assert.Equal(Ticks(s_run), stats.ReadExecutions().BatchComputeTicks[2]);
    }

    [Fact]
    public async Task ReadExecutions_AddsUpWhileRunsAreCounted()
    {
        // Runs of one row counted from two threads while a reader reads: every reading must have
        // as many rows as runs, and its batch sizes must sum to its runs (the statistics endpoint's
        // inference_count, execution_count and batch_stats come from one reading).
        var stats = new SchedulerStats(maxBatchSize: 4);
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var writers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                stats.Executed(1, 3, 0);
            }
        })).ToArray();

        var readings = 0;
        var mismatches = 0;
        while (!stop.IsCancellationRequested)
        {
            var reading = stats.ReadExecutions();
            readings++;
            if (reading.ExecutedRows != reading.Executions || reading.BatchSizes.Sum() != reading.Executions || reading.ComputeTicks != 3 * reading.Executions)
            {
                mismatches++;
            }
        }

        await Task.WhenAll(writers);
        Assert.True(readings > 100, $"only {readings} readings");
        Assert.True(stats.Executions > 1000, $"only {stats.Executions} runs counted");
        Assert.Equal(0, mismatches);
    }
}
