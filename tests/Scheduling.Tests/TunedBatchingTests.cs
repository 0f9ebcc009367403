using Microsoft.Extensions.Time.Testing;

namespace Gateway.Scheduling.Tests;

/// <summary>
/// The tuned batching decision on synthetic run-time curves: the curve's arithmetic, which size it
/// calls best, when a short batch waits, and the queue's decisions on a fake clock. Curves are in
/// milliseconds per run at batch sizes 1, 2, 4, 8, 16.
/// </summary>
public sealed class TunedBatchingTests
{
    private static readonly int[] s_sizes = [1, 2, 4, 8, 16];

    /// <summary>Named curves: run milliseconds at 1, 2, 4, 8, 16.</summary>
    private static readonly Dictionary<string, double[]> s_curves = new()
    {
        // mobilenet_v2 on this 2-core CPU: a batch costs more per image than single runs.
        ["cpu"] = [2.2, 4.6, 9.6, 19.8, 41.6],
        // Exactly proportional: batching neither gains nor loses.
        ["linear"] = [1, 2, 4, 8, 16],
        // A GPU: launch cost dominates, a batch of 16 barely costs more than one.
        ["gpu"] = [1.0, 1.02, 1.05, 1.1, 1.3],
        // Gains up to 4, then per-row cost climbs again (cache spills).
        ["knee"] = [4, 5, 6, 14, 40],
        // A 4% gain at 16: inside the margin, so not worth a wait.
        ["small"] = [1, 1.9, 3.7, 7.4, 14.6],
        ["noise"] = [1, 2, 4, 8, 15.4],
    };

    private readonly FakeTimeProvider _time = new();

    private static RunTimeCurve Curve(string name) =>
        new(s_sizes.Select((size, i) => (size, s_curves[name][i] / 1000)));

    [Theory]
    [InlineData(1, 2.0)]
    [InlineData(2, 4.0)]
    [InlineData(3, 6.0)] // between 2 and 4
    [InlineData(6, 12.0)] // between 4 and 8
    [InlineData(32, 64.0)] // past the largest: its per-row cost times the rows
    public void Curve_InterpolatesBetweenPoints_AndExtrapolatesPerRow(int rows, double expectedMs)
    {
        var curve = new RunTimeCurve([(1, 0.002), (2, 0.004), (4, 0.008), (8, 0.016), (16, 0.032)]);
        Assert.Equal(expectedMs, curve.SecondsAt(rows) * 1000, 9);
    }

    [Fact]
    public void Curve_NeedsBatchOne_AndPositiveTimes()
    {
        Assert.Throws<ArgumentException>(() => new RunTimeCurve([(2, 0.001)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RunTimeCurve([(1, 0.0)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RunTimeCurve([(0, 0.001), (1, 0.001)]));
    }

    [Theory]
    [InlineData("cpu", 16, 1)]
    [InlineData("linear", 16, 1)]
    [InlineData("noise", 16, 1)]
    [InlineData("small", 16, 1)] // 9.6% at 16: under the 10% margin
    [InlineData("gpu", 16, 16)]
    [InlineData("gpu", 8, 8)] // the target bounds it
    [InlineData("knee", 16, 4)]
    public void BestBatchSize_IsTheSizeWithTheMostRowsPerSecond(string curve, int target, int best)
    {
        Assert.Equal(best, new TunedBatching(Curve(curve), target).BestBatchSize);
    }

    [Theory]
    // Batching does not pay: a lone request, or any short batch, is never held.
    [InlineData("cpu", 16, 1, false)]
    [InlineData("cpu", 16, 5, false)]
    [InlineData("linear", 16, 1, false)]
    [InlineData("noise", 16, 1, false)]
    // It pays: short batches wait (the window bounds how long).
    [InlineData("gpu", 16, 1, true)]
    [InlineData("gpu", 16, 12, true)]
    [InlineData("gpu", 16, 15, false)] // 16 gains under the margin over 15
    [InlineData("gpu", 16, 16, false)] // the target reached
    [InlineData("gpu", 4, 3, true)]
    // Past the knee nothing larger gains: 4 rows go without waiting out the window.
    [InlineData("knee", 16, 1, true)]
    [InlineData("knee", 16, 3, true)]
    [InlineData("knee", 16, 4, false)]
    [InlineData("knee", 16, 6, false)]
    public void ShouldWait_OnlyWhenALargerAllowedBatchRunsMoreRowsPerSecond(string curve, int target, int rows, bool waits)
    {
        Assert.Equal(waits, new TunedBatching(Curve(curve), target).ShouldWait(rows));
    }

    private WorkItem Item()
    {
        var item = new WorkItem(owner: null);
        item.Initialise(new PlainRequest([PlainRequest.Floats(1, 16)]), 0, _time.GetTimestamp(), 0);
        return item;
    }

    private BatchQueue Queue(string? curve, int max = 16, int[]? preferred = null, int delayUs = 5000)
    {
        var policy = new SchedulingPolicy
        {
            Batching = true,
            MaxBatchSize = max,
            PreferredBatchSizes = preferred ?? [],
            MaxQueueDelay = TimeSpan.FromMicroseconds(delayUs),
        };
        return new BatchQueue(curve is null ? policy : policy with { Tuning = new TunedBatching(Curve(curve), policy.TargetBatchSize) }, _time.TimestampFrequency);
    }

    [Theory]
    [InlineData(null, 1, false)] // configured: Triton's window, whatever the model
    [InlineData("cpu", 1, true)]
    [InlineData("cpu", 7, true)]
    [InlineData("linear", 3, true)]
    [InlineData("gpu", 1, false)]
    [InlineData("gpu", 12, false)]
    [InlineData("knee", 3, false)]
    [InlineData("knee", 4, true)]
    public void ShortBatch_GoesAtOnce_OnlyWhenTheCurveSaysWaitingCannotPay(string? curve, int queued, bool dispatched)
    {
        var queue = Queue(curve);
        var items = Enumerable.Range(0, queued).Select(_ => Item()).ToList();
        items.ForEach(queue.Enqueue);
        _time.Advance(TimeSpan.FromMicroseconds(100));

        var batch = new List<WorkItem>();
        var decision = queue.Decide(_time.GetTimestamp(), batch, [], out var until);
        if (dispatched)
        {
            Assert.Equal(BatchDecision.Dispatch, decision);
            Assert.Equal(items, batch);
            Assert.Equal(new BatchDispatchCounts(0, 0, 1), new BatchDispatchCounts(queue.DispatchedFull, queue.DispatchedAtWindow, queue.DispatchedEarly));
        }
        else
        {
            // A wait is never longer than the configured window.
            Assert.Equal(BatchDecision.Wait, decision);
            Assert.Empty(batch);
            Assert.Equal(items[0].EnqueuedAt + (5 * _time.TimestampFrequency / 1000), until);
        }
    }

    [Fact]
    public void Tuned_WaitsAsRequestsArrive_ThenGoesWhenTheCurveStopsGaining()
    {
        // knee: 4 rows is the best per-row cost; the window is 5 ms.
        var queue = Queue("knee");
        var batch = new List<WorkItem>();
        var first = Item();
        queue.Enqueue(first);
        Assert.Equal(BatchDecision.Wait, queue.Decide(_time.GetTimestamp(), batch, [], out _));

        var items = new List<WorkItem> { first };
        for (var i = 1; i < 4; i++)
        {
            _time.Advance(TimeSpan.FromMicroseconds(300));
            items.Add(Item());
            queue.Enqueue(items[^1]);
            var decision = queue.Decide(_time.GetTimestamp(), batch, [], out _);
            Assert.Equal(i < 3 ? BatchDecision.Wait : BatchDecision.Dispatch, decision);
        }

        // 0.9 ms after the first, not the 5 ms Triton would wait.
        Assert.Equal(items, batch);
        Assert.Equal(1, queue.DispatchedEarly);
    }

    [Fact]
    public void Tuned_KeepsTheConfiguredBounds_TargetAndWindow()
    {
        // gpu pays up to the target: 11 queued go as the preferred 8, and a short rest waits the
        // window, then goes.
        var queue = Queue("gpu", max: 16, preferred: [8], delayUs: 1000);
        var items = Enumerable.Range(0, 11).Select(_ => Item()).ToList();
        items.ForEach(queue.Enqueue);
        var batch = new List<WorkItem>();
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal(items.Take(8), batch);
        batch.Clear();

        Assert.Equal(BatchDecision.Wait, queue.Decide(_time.GetTimestamp(), batch, [], out var until));
        Assert.Equal(items[8].EnqueuedAt + (_time.TimestampFrequency / 1000), until);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal(items.Skip(8), batch);
        Assert.Equal((1, 1, 0), (queue.DispatchedFull, queue.DispatchedAtWindow, queue.DispatchedEarly));
    }

    [Fact]
    public void Tuned_CpuCurve_NeverHoldsALoneRequest_AtAnyQueueState()
    {
        // The configured 5 ms window would hold each of these; the cpu curve sends each at once.
        var queue = Queue("cpu");
        var batch = new List<WorkItem>();
        for (var i = 0; i < 5; i++)
        {
            var item = Item();
            queue.Enqueue(item);
            Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
            Assert.Equal([item], batch);
            batch.Clear();
            _time.Advance(TimeSpan.FromMicroseconds(50));
        }

        Assert.Equal(5, queue.DispatchedEarly);
    }

    [Fact]
    public void Unbatched_IgnoresTuning()
    {
        var policy = new SchedulingPolicy { Tuning = new TunedBatching(Curve("gpu"), 16) };
        var queue = new BatchQueue(policy, _time.TimestampFrequency);
        var a = Item();
        var b = Item();
        queue.Enqueue(a);
        queue.Enqueue(b);
        var batch = new List<WorkItem>();
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal([a], batch);
    }
}
