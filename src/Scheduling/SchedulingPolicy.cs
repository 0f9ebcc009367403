namespace Gateway.Scheduling;

/// <summary>
/// How one model version is scheduled, resolved from <c>config.json</c>'s <c>max_batch_size</c>,
/// <c>instance_count</c> and <c>dynamic_batching</c> (Triton's names, with its queue policy
/// flattened: <c>default_queue_policy</c>'s bound, timeout and override apply to every priority level).
/// A record so a loaded version can add its measured <see cref="Tuning"/> to the configured policy.
/// </summary>
public sealed record SchedulingPolicy
{
    /// <summary>Queue bound used when the configuration gives none (Triton's 0 means unbounded; unbounded queues hide overload).</summary>
    public const int DefaultMaxQueueSize = 1024;

    /// <summary>True when requests are merged into batches (needs <c>dynamic_batching</c> and <c>max_batch_size</c> &gt; 0).</summary>
    public bool Batching { get; init; }

    /// <summary>Largest number of rows in one execution; 0 when the model does not batch.</summary>
    public int MaxBatchSize { get; init; }

    /// <summary>Preferred batch sizes, ascending; empty means "as large as possible".</summary>
    public int[] PreferredBatchSizes { get; init; } = [];

    /// <summary>How long the oldest queued request may wait for a batch to fill.</summary>
    public TimeSpan MaxQueueDelay { get; init; }

    /// <summary>Queued requests beyond which new ones are refused with 429.</summary>
    public int MaxQueueSize { get; init; } = DefaultMaxQueueSize;

    /// <summary>Deadline for requests that give no <c>timeout</c> parameter; zero means none.</summary>
    public TimeSpan DefaultTimeout { get; init; }

    /// <summary>
    /// Whether a request's own <c>timeout</c> replaces <see cref="DefaultTimeout"/> (Triton's
    /// <c>allow_timeout_override</c>). True unless a configuration's queue policy says otherwise.
    /// </summary>
    public bool AllowTimeoutOverride { get; init; } = true;

    /// <summary>Number of priority levels (1 is highest); 0 means priorities are not used.</summary>
    public int PriorityLevels { get; init; }

    /// <summary>Level of requests that give no <c>priority</c> parameter.</summary>
    public int DefaultPriorityLevel { get; init; } = 1;

    /// <summary>Parallel executions, each on its own dedicated thread.</summary>
    public int InstanceCount { get; init; } = 1;

    /// <summary>
    /// A model that does not batch (or batches with no queue delay, so a lone request would be
    /// dispatched alone anyway) and whose executions average at most this long runs on the
    /// request's own thread when an instance is free and nothing is queued, instead of being handed
    /// to an execution thread and back (two thread wake-ups, which cost more than such a model's
    /// run). Longer models always run on the dedicated threads. Zero turns the fast path off.
    /// </summary>
    public TimeSpan InlineThreshold { get; init; }

    /// <summary>
    /// The decision from the run-time curve measured when the version loaded: when set, a batch
    /// short of its target waits only while the curve says a larger allowed batch runs more rows per second.
    /// Null keeps the configured behaviour (wait the whole window for the target).
    /// </summary>
    public TunedBatching? Tuning { get; init; }

    /// <summary>Why a batching model has no <see cref="Tuning"/> (switched off, or not measurable); empty otherwise.</summary>
    public string TuningNote { get; init; } = string.Empty;

    /// <summary>
    /// A lone request whose run took at most this long, with nothing queued behind it, has its
    /// caller continue on the execution thread (no thread-pool wake-up). Longer runs complete
    /// asynchronously: the caller's continuation reads and parses the connection's next request,
    /// which a long model's next run should not wait behind. Zero turns it off.
    /// </summary>
    public TimeSpan ContinueOnExecutionThreadBelow { get; init; } = TimeSpan.FromMicroseconds(500);

    /// <summary>The batch size a dispatch aims for: the largest preferred size, else the maximum.</summary>
    public int TargetBatchSize => PreferredBatchSizes.Length > 0 ? PreferredBatchSizes[^1] : Math.Max(1, MaxBatchSize);

    /// <summary>Levels the queue keeps (at least one).</summary>
    public int QueueLevels => Math.Max(1, PriorityLevels);
}
