namespace Gateway.Hosting;

/// <summary>
/// Settings under <c>Gateway</c> (environment <c>Gateway__Key</c>, command line
/// <c>--Gateway:Key</c>; <c>--model-repository</c> is a shorthand). Bound and validated once at
/// start-up.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Gateway";

    /// <summary>Directory holding <c>&lt;model&gt;/&lt;version&gt;/model.*</c>.</summary>
    public string ModelRepository { get; set; } = "models";

    /// <summary>Largest accepted request body in bytes (larger bodies get 413).</summary>
    public long MaxRequestBodyBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// When true, <c>/v2/health/ready</c> also requires that no model failed to load (Triton's
    /// strict readiness). By default a failed model is reported but does not hold the server back.
    /// </summary>
    public bool StrictReadiness { get; set; }

    /// <summary>How many models load at once at start-up (0: one per processor).</summary>
    public int LoadParallelism { get; set; }

    /// <summary>
    /// Seconds between scans of the repository directory for new, changed or removed models;
    /// 0 (the default) turns polling off (use the repository API instead).
    /// </summary>
    public int PollIntervalSeconds { get; set; }

    /// <summary>
    /// Models without dynamic batching whose executions average at most this many microseconds
    /// run on the request's thread when an instance is free (saving two thread hand-offs); longer
    /// ones run on their dedicated execution threads. 0 sends every execution to those threads.
    /// </summary>
    public int InlineExecutionMicroseconds { get; set; } = 200;

    /// <summary>
    /// Runs request handling inline on the socket's I/O thread instead of queueing it to the
    /// thread pool (Kestrel's <c>UnsafePreferInlineScheduling</c>): one thread hop less per
    /// request. Safe here because handlers never block except inline model runs, which are
    /// bounded by <see cref="InlineExecutionMicroseconds"/>.
    /// </summary>
    public bool InlineSocketScheduling { get; set; }

    /// <summary>
    /// When true (the default), a model with dynamic batching has its run time measured at the
    /// allowed batch sizes when it loads, and a batch short of its target waits only when that
    /// curve says a larger allowed batch runs more rows per second (docs/CONFIGURATION.md, "Tuned batching"). False keeps
    /// Triton's behaviour: every short batch waits its whole <c>max_queue_delay_microseconds</c>.
    /// </summary>
    public bool BatchTuning { get; set; } = true;

    /// <summary>Longest the measuring may add to one model version's load (and so to readiness), in milliseconds.</summary>
    public int BatchTuningBudgetMilliseconds { get; set; } = 1000;

    /// <summary>Checks the values; returns the first problem, naming its key, or null.</summary>
    public string? Validate()
    {
        if (string.IsNullOrWhiteSpace(ModelRepository))
        {
            return $"{SectionName}:ModelRepository must not be empty";
        }

        if (MaxRequestBodyBytes is < 1024 or > int.MaxValue)
        {
            return $"{SectionName}:MaxRequestBodyBytes must be between 1024 and {int.MaxValue} (got {MaxRequestBodyBytes})";
        }

        if (PollIntervalSeconds is < 0 or > 86400)
        {
            return $"{SectionName}:PollIntervalSeconds must be from 0 to 86400 (got {PollIntervalSeconds})";
        }

        if (InlineExecutionMicroseconds is < 0 or > 1_000_000)
        {
            return $"{SectionName}:InlineExecutionMicroseconds must be from 0 to 1000000 (got {InlineExecutionMicroseconds})";
        }

        if (BatchTuningBudgetMilliseconds is < 0 or > 60_000)
        {
            return $"{SectionName}:BatchTuningBudgetMilliseconds must be from 0 to 60000 (got {BatchTuningBudgetMilliseconds})";
        }

        if (LoadParallelism < 0)
        {
            return $"{SectionName}:LoadParallelism must not be negative (got {LoadParallelism})";
        }

        return null;
    }
}
