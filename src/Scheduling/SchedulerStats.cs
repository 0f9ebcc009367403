namespace Gateway.Scheduling;

/// <summary>
/// Counters of one scheduler, updated with interlocked operations on the execution threads and
/// read by the statistics endpoint and the metrics exporter.
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

    internal SchedulerStats(int maxBatchSize)
    {
        BatchSizes = new long[Math.Max(1, maxBatchSize) + 1];
        BatchComputeTicks = new long[BatchSizes.Length];
    }

    /// <summary>Executions by batch size in rows (index = rows; the last slot also holds larger ones).</summary>
    public long[] BatchSizes { get; }

    /// <summary>Total compute time of the executions of each batch size, in timestamp ticks (indexed as <see cref="BatchSizes"/>).</summary>
    public long[] BatchComputeTicks { get; }

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
        var slot = Math.Min(rows, BatchSizes.Length - 1);
        Interlocked.Increment(ref _executions);
        Interlocked.Add(ref _executedRows, rows);
        Interlocked.Add(ref _computeTicks, computeTicks);
        Interlocked.Increment(ref BatchSizes[slot]);
        Interlocked.Add(ref BatchComputeTicks[slot], computeTicks);
        Volatile.Write(ref _lastInferenceMs, unixMs);
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
