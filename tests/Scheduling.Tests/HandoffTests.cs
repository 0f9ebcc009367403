using Gateway.Abstractions;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Scheduling.Tests;

/// <summary>
/// The hand-off from the queue to execution threads: a thread that finishes takes the next work
/// itself and peers are woken only when there is work for them, so no wake-up may be lost.
/// Real threads on the real clock; the runner blocks or counts, so the tests see concurrency.
/// </summary>
public sealed class HandoffTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);

    private static ModelScheduler Unbatched(IModelRunner runner, int instances) =>
        new SchedulerFactory(TimeProvider.System, NullLogger.Instance).Create("handoff", runner, new SchedulingPolicy
        {
            InstanceCount = instances,
            MaxQueueSize = 4096,
            InlineThreshold = TimeSpan.Zero, // every request goes through the queue
            ContinueOnExecutionThreadBelow = TimeSpan.MaxValue, // whatever a gated run's length on a busy machine
        }, observer: null);

    private static WorkItem Submit(ModelScheduler scheduler, int i) =>
        scheduler.Submit(new PlainRequest([PlainRequest.Floats(1, 2, i)]), default);

    [Fact]
    public async Task TwoInstances_RunTwoQueuedRequestsAtOnce()
    {
        var runner = new GatedRunner();
        using var scheduler = Unbatched(runner, instances: 2);
        var items = Enumerable.Range(0, 3).Select(i => Submit(scheduler, i)).ToArray();

        // Both threads must be in Run together: the second was woken for the second request.
        Assert.True(runner.BothRunning.Wait(s_wait), "the second instance never ran while the first did");
        runner.Release.Set();
        foreach (var item in items)
        {
            Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
            await scheduler.ReleaseAsync(item);
        }

        Assert.Equal(2, runner.MaxConcurrent);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    public async Task BurstsFromManyThreads_AllComplete_NoWakeUpIsLost(int instances)
    {
        var runner = new EchoRunner();
        using var scheduler = Unbatched(runner, instances);
        for (var round = 0; round < 20; round++)
        {
            // Bursts separated by pauses long enough for the threads to stop spinning and park.
            var tasks = Enumerable.Range(0, 8).Select(t => Task.Run(async () =>
            {
                for (var i = 0; i < 25; i++)
                {
                    var item = Submit(scheduler, i);
                    Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
                    await scheduler.ReleaseAsync(item);
                }
            }));
            await Task.WhenAll(tasks);
            await Task.Delay(round % 3 == 0 ? 2 : 0);
        }

        Assert.Equal(20 * 8 * 25, scheduler.Stats.Succeeded);
        Assert.Equal(0, scheduler.QueueDepth);
    }

    [Fact]
    public async Task RequestsQueuedBehindAnInlineRun_RunOnTheThreadThatHeldTheInstance()
    {
        var runner = new GatedRunner();
        using var scheduler = new SchedulerFactory(TimeProvider.System, NullLogger.Instance).Create("inline", runner, new SchedulingPolicy
        {
            InstanceCount = 1,
            InlineThreshold = TimeSpan.FromSeconds(1), // short enough to run on the caller's thread
        }, observer: null);

        // The first request runs inline on its submitting thread and holds the only instance.
        var first = Task.Run(() => Submit(scheduler, 0));
        Assert.True(runner.Entered.Wait(s_wait), "the first request never ran");
        var queued = Enumerable.Range(1, 3).Select(i => Submit(scheduler, i)).ToArray();
        Assert.Equal(3, scheduler.QueueDepth);
        runner.Release.Set();

        var items = queued.Prepend(await first.WaitAsync(s_wait)).ToArray();
        foreach (var item in items)
        {
            Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
        }

        Assert.True(items[0].RanInline);
        // The queued three ran after it on the same thread, not on the execution thread (no wake-up).
        Assert.Equal(4, runner.Threads.Count);
        Assert.All(runner.Threads, t => Assert.Equal(runner.Threads[0], t));
        Assert.NotEqual("inline#0", runner.ThreadNames[0]);
        foreach (var item in items)
        {
            await scheduler.ReleaseAsync(item);
        }
    }

    [Fact]
    public async Task LoneRequest_NothingQueued_CallerContinuesOnTheExecutionThread()
    {
        var runner = new GatedRunner();
        using var scheduler = Unbatched(runner, instances: 1);
        var item = Submit(scheduler, 0);
        Assert.True(runner.Entered.Wait(s_wait), "the request never ran");

        // The continuation is registered while the run is blocked, so completion has to run it.
        var continued = ThreadAfterAsync(item);
        runner.Release.Set();

        // No thread-pool wake-up: the execution thread that finished the run went on with the caller.
        Assert.Equal("handoff#0", await continued.WaitAsync(s_wait));
        Assert.Equal(OutcomeStatus.Succeeded, await item.Completion);
        await scheduler.ReleaseAsync(item);
    }

    /// <summary>A long run's lone caller continues on the thread pool, so the execution thread is free for the next run.</summary>
    [Fact]
    public async Task LoneRequest_OfALongRun_CallerContinuesOnTheThreadPool()
    {
        var runner = new EchoRunner { OnRun = static () => Thread.Sleep(5) };
        using var scheduler = new SchedulerFactory(TimeProvider.System, NullLogger.Instance).Create("handoff", runner, new SchedulingPolicy
        {
            InlineThreshold = TimeSpan.Zero,
            ContinueOnExecutionThreadBelow = TimeSpan.FromMilliseconds(1),
        }, observer: null);
        var item = Submit(scheduler, 0);
        var continued = ThreadAfterAsync(item);

        Assert.NotEqual("handoff#0", await continued.WaitAsync(s_wait));
        Assert.Equal(OutcomeStatus.Succeeded, await item.Completion);
        await scheduler.ReleaseAsync(item);
    }

    [Fact]
    public async Task RequestQueuedBehind_CallerContinuesOnTheThreadPool_AndTheQueuedOneRuns()
    {
        var runner = new GatedRunner();
        using var scheduler = Unbatched(runner, instances: 1);
        var first = Submit(scheduler, 0);
        Assert.True(runner.Entered.Wait(s_wait), "the first request never ran");
        var second = Submit(scheduler, 1);
        Assert.Equal(1, scheduler.QueueDepth);

        var continued = ThreadAfterAsync(first);
        runner.Release.Set();

        // Work waits for the execution thread, so the first caller's code must not hold it up.
        Assert.NotEqual("handoff#0", await continued.WaitAsync(s_wait));
        Assert.Equal(OutcomeStatus.Succeeded, await second.Completion.AsTask().WaitAsync(s_wait));
        Assert.Equal(2, scheduler.Stats.Succeeded);
        await scheduler.ReleaseAsync(first);
        await scheduler.ReleaseAsync(second);
    }

    [Fact]
    public async Task CallerContinuingOnTheExecutionThread_SubmitsAgainToTheSameModel_ItRuns()
    {
        var runner = new GatedRunner();
        using var scheduler = Unbatched(runner, instances: 1);
        var first = Submit(scheduler, 0);
        Assert.True(runner.Entered.Wait(s_wait), "the first request never ran");
        var chained = ChainAsync();
        runner.Release.Set();

        // The first caller's code runs on the only execution thread and queues a second request
        // there: the thread must get back to its queue (no deadlock) and run it.
        var second = await chained.WaitAsync(s_wait);
        Assert.Equal(OutcomeStatus.Succeeded, await second.Completion);
        Assert.Equal(2, scheduler.Stats.Succeeded);
        Assert.All(runner.ThreadNames, name => Assert.Equal("handoff#0", name));
        await scheduler.ReleaseAsync(first);
        await scheduler.ReleaseAsync(second);

        async Task<WorkItem> ChainAsync()
        {
            await first.Completion.ConfigureAwait(false);
            Assert.Equal("handoff#0", Thread.CurrentThread.Name);
            var item = Submit(scheduler, 1);
            await item.Completion.ConfigureAwait(false);
            return item;
        }
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(5000, false)]
    public async Task BatchingModel_RunsInline_OnlyWhenItWouldNotWaitForABatch(int delayMicroseconds, bool inline)
    {
        var runner = new EchoRunner();
        using var scheduler = new SchedulerFactory(TimeProvider.System, NullLogger.Instance).Create("batching", runner, new SchedulingPolicy
        {
            Batching = true,
            MaxBatchSize = 8,
            MaxQueueDelay = TimeSpan.FromMicroseconds(delayMicroseconds),
            InlineThreshold = TimeSpan.FromSeconds(1),
        }, observer: null);

        var item = Submit(scheduler, 0);
        Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
        Assert.Equal(inline, item.RanInline);
        await scheduler.ReleaseAsync(item);
    }

    /// <summary>
    /// With a queue delay configured, the measured curve decides: where batching gains nothing
    /// (run time proportional to rows) a lone request runs inline as an unbatched one would; where a
    /// batch of 8 costs barely more than one (a GPU's curve) it is queued to wait for company.
    /// </summary>
    [Theory]
    [InlineData(new[] { 1.0, 2.0, 4.0, 8.0 }, true)]
    [InlineData(new[] { 1.0, 1.02, 1.05, 1.1 }, false)]
    public async Task BatchingModel_WithAWindow_RunsInline_WhenItsCurveSaysWaitingCannotPay(double[] milliseconds, bool inline)
    {
        var runner = new EchoRunner();
        int[] sizes = [1, 2, 4, 8];
        var curve = new RunTimeCurve(sizes.Select((size, i) => (size, milliseconds[i] / 1000)));
        using var scheduler = new SchedulerFactory(TimeProvider.System, NullLogger.Instance).Create("tuned", runner, new SchedulingPolicy
        {
            Batching = true,
            MaxBatchSize = 8,
            MaxQueueDelay = TimeSpan.FromMilliseconds(5),
            InlineThreshold = TimeSpan.FromSeconds(1),
            Tuning = new TunedBatching(curve, target: 8),
        }, observer: null);

        var item = Submit(scheduler, 0);
        Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
        Assert.Equal(inline, item.RanInline);
        await scheduler.ReleaseAsync(item);
    }

    /// <summary>The name of the thread an awaiting caller continues on (no context captured).</summary>
    private static async Task<string?> ThreadAfterAsync(WorkItem item)
    {
        await item.Completion.ConfigureAwait(false);
        return Thread.CurrentThread.Name;
    }

    /// <summary>Blocks every run until released; signals when two runs are in progress at once.</summary>
    private sealed class GatedRunner : IModelRunner
    {
        private readonly EchoRunner _inner = new();
        private int _running;

        public ManualResetEventSlim Release { get; } = new();

        public ManualResetEventSlim BothRunning { get; } = new();

        public ManualResetEventSlim Entered { get; } = new();

        public List<int> Threads { get; } = [];

        public List<string?> ThreadNames { get; } = [];

        public int MaxConcurrent { get; private set; }

        public ModelSignature Signature => _inner.Signature;

        public string Device => "cpu";

        public RunResult Run(ReadOnlySpan<Tensor> inputs, ReadOnlySpan<int> outputs)
        {
            var now = Interlocked.Increment(ref _running);
            lock (this)
            {
                MaxConcurrent = Math.Max(MaxConcurrent, now);
                Threads.Add(Environment.CurrentManagedThreadId);
                ThreadNames.Add(Thread.CurrentThread.Name);
            }

            Entered.Set();

            if (now >= 2)
            {
                BothRunning.Set();
            }

            Release.Wait(s_wait);
            RunResult result;
            lock (_inner)
            {
                result = _inner.Run(inputs, outputs);
            }

            Interlocked.Decrement(ref _running);
            return result;
        }

        public void Dispose()
        {
        }
    }
}
