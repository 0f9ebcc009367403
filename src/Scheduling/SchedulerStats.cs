namespace Gateway.Scheduling;

/// <summary>
/// Counters of one scheduler, updated on the execution threads (and request threads that run a
/// short model inline) and read by the statistics endpoint and the metrics exporter. The
/// execution counters change together under one lock, so that <see cref="ReadExecutions"/> always
/// adds up (for an unbatched model <c>inference_count</c> equals <c>execution_count</c> in every
/// answer); the request outcome counters are each updated with one interlocked operation.
/// </summary>
public sealed class SchedulerStats
{
    private long _succeeded;
    private long _failed;
    private long _queueFull;
    private long _deadlineExceeded;
    private long _cancelled;
    private long _executions;
    private long _executedRows;
    private long _queueTicks;
    private long _computeTicks;
    private long _successTicks;
    private long _failTicks;
    private long _requestComputeTicks;
    private long _lastInferenceMs;
    private readonly long[] _batchSizes;
    private readonly long[] _batchComputeTicks;
    private readonly Lock _executed = new();

    internal SchedulerStats(int maxBatchSize)
    {
        _batchSizes = new long[Math.Max(1, maxBatchSize) + 1];
        _batchComputeTicks = new long[_batchSizes.Length];
    }

    public long Succeeded => Volatile.Read(ref _succeeded);

    public long Failed => Volatile.Read(ref _failed);

    public long QueueFull => Volatile.Read(ref _queueFull);

    public long DeadlineExceeded => Volatile.Read(ref _deadlineExceeded);

    public long Cancelled => Volatile.Read(ref _cancelled);

    public long Executions => Volatile.Read(ref _executions);

    public long ExecutedRows => Volatile.Read(ref _executedRows);

    /// <summary>Total queue time of succeeded requests (submission to the start of their run), in timestamp ticks.</summary>
    public long QueueTicks => Volatile.Read(ref _queueTicks);

    /// <summary>Total compute time of executions, in timestamp ticks (a batch counts once).</summary>
    public long ComputeTicks => Volatile.Read(ref _computeTicks);

    /// <summary>
    /// Total time of succeeded requests from submission to completion, in timestamp ticks
    /// (Triton's <c>success.ns</c>: queue and compute of each request).
    /// </summary>
    public long SuccessTicks => Volatile.Read(ref _successTicks);

    /// <summary>Total time of failed requests from submission to completion, in timestamp ticks.</summary>
    public long FailTicks => Volatile.Read(ref _failTicks);

    /// <summary>
    /// Total compute time of succeeded requests, in timestamp ticks: each request counts the run
    /// of its batch, as Triton's <c>inference_stats.compute_infer</c> does.
    /// </summary>
    public long RequestComputeTicks => Volatile.Read(ref _requestComputeTicks);

    /// <summary>Unix milliseconds of the last execution.</summary>
    public long LastInferenceMs => Volatile.Read(ref _lastInferenceMs);

    internal void Rejected(OutcomeStatus status)
    {
        switch (status)
        {
            case OutcomeStatus.QueueFull:
                Interlocked.Increment(ref _queueFull);
                break;
            case OutcomeStatus.DeadlineExceeded:
                Interlocked.Increment(ref _deadlineExceeded);
                break;
            case OutcomeStatus.Cancelled:
                Interlocked.Increment(ref _cancelled);
                break;
        }
    }

    /// <summary>One run of the backend over <paramref name="rows"/> rows.</summary>
    internal void Executed(int rows, long computeTicks, long unixMs)
    {
        var slot = Math.Min(rows, _batchSizes.Length - 1);
        // PERF: one uncontended lock costs about what the five interlocked operations it replaces
        // did, and a reader can no longer see a run's rows without the run (or the reverse).
        lock (_executed)
        {
            Volatile.Write(ref _executions, _executions + 1);
            Volatile.Write(ref _executedRows, _executedRows + rows);
            Volatile.Write(ref _computeTicks, _computeTicks + computeTicks);
            _batchSizes[slot]++;
            _batchComputeTicks[slot] += computeTicks;
        }

        Volatile.Write(ref _lastInferenceMs, unixMs);
    }

    /// <summary>The execution counters as of one moment, consistent with each other.</summary>
    public ExecutionCounts ReadExecutions()
    {
        lock (_executed)
        {
            return new ExecutionCounts(_executions, _executedRows, _computeTicks, [.. _batchSizes], [.. _batchComputeTicks]);
        }
    }

    /// <summary>
    /// One request of that run finished: <paramref name="totalTicks"/> since it was submitted, of
    /// which <paramref name="queueTicks"/> waiting and <paramref name="computeTicks"/> its batch's run.
    /// Queue and compute count succeeded requests only, as Triton's do.
    /// </summary>
    internal void Finished(bool succeeded, long totalTicks, long queueTicks, long computeTicks)
    {
        if (succeeded)
        {
            Interlocked.Increment(ref _succeeded);
            Interlocked.Add(ref _successTicks, totalTicks);
            Interlocked.Add(ref _queueTicks, queueTicks);
            Interlocked.Add(ref _requestComputeTicks, computeTicks);
        }
        else
        {
            Interlocked.Increment(ref _failed);
            Interlocked.Add(ref _failTicks, totalTicks);
        }
    }
}

/// <summary>
/// The execution counters of one <see cref="SchedulerStats.ReadExecutions"/>: runs of the backend,
/// the rows they held, their compute time in timestamp ticks, and the runs and compute time by
/// batch size in rows (index = rows; the last slot also holds larger batches).
/// </summary>
public sealed record ExecutionCounts(long Executions, long ExecutedRows, long ComputeTicks, long[] BatchSizes, long[] BatchComputeTicks);
