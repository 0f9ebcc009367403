using Microsoft.Extensions.Time.Testing;

namespace Gateway.Scheduling.Tests;

/// <summary>
/// The batch-forming policy as a pure function of the queue and a fake clock: no threads, no
/// sleeping; the clock is advanced by exactly the amounts under test.
/// </summary>
public sealed class BatchQueueTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>An identity-shaped request ([rows, 16] FP32) in a work item of no scheduler.</summary>
    private WorkItem Item(int rows = 1, int level = 0, long deadline = 0, float first = 0)
    {
        var item = new WorkItem(owner: null);
        item.Initialise(new PlainRequest([PlainRequest.Floats(rows, 16, first)]), level, _time.GetTimestamp(), deadline);
        return item;
    }

    private BatchQueue Queue(SchedulingPolicy policy) => new(policy, _time.TimestampFrequency);

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private static SchedulingPolicy Batching(int max, int[]? preferred = null, int delayUs = 1000, int levels = 0) => new()
    {
        Batching = true,
        MaxBatchSize = max,
        PreferredBatchSizes = preferred ?? [],
        MaxQueueDelay = TimeSpan.FromMicroseconds(delayUs),
        PriorityLevels = levels,
    };

    [Fact]
    public void NoBatching_DispatchesOneAtATime_InOrder()
    {
        var queue = Queue(new SchedulingPolicy());
        var a = Item();
        var b = Item();
        queue.Enqueue(a);
        queue.Enqueue(b);
        var batch = new List<WorkItem>();
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal([a], batch);
        batch.Clear();
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal([b], batch);
        batch.Clear();
        Assert.Equal(BatchDecision.Empty, queue.Decide(_time.GetTimestamp(), batch, [], out _));
    }

    [Fact]
    public void PreferredSizeReached_DispatchesAtOnce()
    {
        var queue = Queue(Batching(8, [4]));
        var items = Enumerable.Range(0, 5).Select(_ => Item()).ToList();
        items.ForEach(queue.Enqueue);
        var batch = new List<WorkItem>();
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal(items.Take(4), batch);
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public void BelowPreferred_WaitsForTheDelay_ThenDispatchesWhatIsThere()
    {
        var queue = Queue(Batching(8, [4], delayUs: 500));
        var first = Item();
        queue.Enqueue(first);
        _time.Advance(TimeSpan.FromMicroseconds(200));
        var second = Item();
        queue.Enqueue(second);

        var batch = new List<WorkItem>();
        Assert.Equal(BatchDecision.Wait, queue.Decide(_time.GetTimestamp(), batch, [], out var until));
        Assert.Empty(batch);
        Assert.Equal(first.EnqueuedAt + Ticks(TimeSpan.FromMicroseconds(500)), until);

        _time.Advance(TimeSpan.FromMicroseconds(299));
        Assert.Equal(BatchDecision.Wait, queue.Decide(_time.GetTimestamp(), batch, [], out _));

        _time.Advance(TimeSpan.FromMicroseconds(1));
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal([first, second], batch);
    }

    [Fact]
    public void DelayExpired_TakesTheLargestPreferredSizeAnExactPrefixReaches()
    {
        var queue = Queue(Batching(8, [2, 4], delayUs: 100));
        var items = Enumerable.Range(0, 3).Select(_ => Item()).ToList();
        items.ForEach(queue.Enqueue);
        _time.Advance(TimeSpan.FromMicroseconds(100));
        var batch = new List<WorkItem>();
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal(items.Take(2), batch);
    }

    [Fact]
    public void ZeroDelay_DispatchesGreedilyUpToTheMaximum()
    {
        var queue = Queue(Batching(8, delayUs: 0));
        var items = Enumerable.Range(0, 11).Select(_ => Item()).ToList();
        items.ForEach(queue.Enqueue);
        var batch = new List<WorkItem>();
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal(items.Take(8), batch);
        batch.Clear();
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, [], out _));
        Assert.Equal(items.Skip(8), batch);
    }

    [Fact]
    public void MultiRowRequests_CountRows_AndOneThatDoesNotFitWaits()
    {
        var queue = Queue(Batching(8, delayUs: 0));
        var a = Item(rows: 3);
        var b = Item(rows: 6);
        var c = Item(rows: 5);
        queue.Enqueue(a);
        queue.Enqueue(b);
        queue.Enqueue(c);
        var batch = new List<WorkItem>();
        queue.Decide(_time.GetTimestamp(), batch, [], out _);
        Assert.Equal([a, c], batch);
        batch.Clear();
        queue.Decide(_time.GetTimestamp(), batch, [], out _);
        Assert.Equal([b], batch);
    }

    [Fact]
    public void HigherPriorityLevelsGoFirst()
    {
        var queue = Queue(Batching(2, [2], levels: 2));
        var low1 = Item(level: 1);
        var low2 = Item(level: 1);
        var high = Item(level: 0);
        queue.Enqueue(low1);
        queue.Enqueue(low2);
        queue.Enqueue(high);
        var batch = new List<WorkItem>();
        queue.Decide(_time.GetTimestamp(), batch, [], out _);
        Assert.Equal([high, low1], batch);
    }

    [Fact]
    public void ExpiredRequests_AreRemovedNotDispatched()
    {
        var queue = Queue(Batching(8, delayUs: 0));
        var expiring = Item(deadline: _time.GetTimestamp() + Ticks(TimeSpan.FromMicroseconds(50)));
        var keeping = Item();
        queue.Enqueue(expiring);
        queue.Enqueue(keeping);
        _time.Advance(TimeSpan.FromMicroseconds(50));
        var batch = new List<WorkItem>();
        var expired = new List<WorkItem>();
        Assert.Equal(BatchDecision.Dispatch, queue.Decide(_time.GetTimestamp(), batch, expired, out _));
        Assert.Equal([expiring], expired);
        Assert.Equal([keeping], batch);
    }

    [Fact]
    public void Remove_FromTheMiddle_KeepsOrder()
    {
        var queue = Queue(Batching(8, delayUs: 0));
        var items = Enumerable.Range(0, 4).Select(_ => Item()).ToList();
        items.ForEach(queue.Enqueue);
        queue.Remove(items[1]);
        queue.Remove(items[3]);
        Assert.Equal(2, queue.Count);
        var batch = new List<WorkItem>();
        queue.Decide(_time.GetTimestamp(), batch, [], out _);
        Assert.Equal([items[0], items[2]], batch);
    }
}
