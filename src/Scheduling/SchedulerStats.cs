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
    private long _lastInferenceMs;

    internal SchedulerStats(int maxBatchSize)
    {
        BatchSizes = new long[Math.Max(1, maxBatchSize) + 1];
    }

    /// <summary>Executions by batch size in rows (index = rows; the last slot also holds larger ones).</summary>
    public long[] BatchSizes { get; }

    public long Succeeded => Volatile.Read(ref _succeeded);

    public long Failed => Volatile.Read(ref _failed);

    public long QueueFull => Volatile.Read(ref _queueFull);

    public long DeadlineExceeded => Volatile.Read(ref _deadlineExceeded);

    public long Cancelled => Volatile.Read(ref _cancelled);

    public long Executions => Volatile.Read(ref _executions);

    public long ExecutedRows => Volatile.Read(ref _executedRows);

    /// <summary>Total queue time of succeeded requests, in timestamp ticks.</summary>
    public long QueueTicks => Volatile.Read(ref _queueTicks);

    /// <summary>Total compute time of executions, in timestamp ticks.</summary>
    public long ComputeTicks => Volatile.Read(ref _computeTicks);

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

    internal void Executed(int requests, int rows, long computeTicks, bool succeeded, long unixMs)
    {
        Interlocked.Increment(ref _executions);
        Interlocked.Add(ref _executedRows, rows);
        Interlocked.Add(ref _computeTicks, computeTicks);
        Interlocked.Increment(ref BatchSizes[Math.Min(rows, BatchSizes.Length - 1)]);
        Interlocked.Add(ref succeeded ? ref _succeeded : ref _failed, requests);
        Volatile.Write(ref _lastInferenceMs, unixMs);
    }

    internal void Queued(long ticks) => Interlocked.Add(ref _queueTicks, ticks);
}
