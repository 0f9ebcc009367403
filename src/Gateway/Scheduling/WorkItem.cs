using System.Threading.Tasks.Sources;
using Gateway.Abstractions;
using Gateway.Protocol;

namespace Gateway.Scheduling;

/// <summary>How a scheduled request ended.</summary>
internal enum OutcomeStatus
{
    Succeeded,
    Failed,
    QueueFull,
    DeadlineExceeded,
    Cancelled,
}

/// <summary>Where a work item is; changed only under the scheduler's queue lock.</summary>
internal enum WorkItemState
{
    Idle,
    Queued,
    Executing,
    Done,
}

/// <summary>
/// One request's passage through a model's scheduler: queue links, deadline, and the awaitable
/// outcome. Pooled per scheduler and completed through <see cref="ManualResetValueTaskSourceCore{T}"/>
/// with continuations run asynchronously, so completing never runs a caller's code on an
/// execution thread and a steady-state request allocates nothing here.
/// </summary>
internal sealed class WorkItem : IValueTaskSource<OutcomeStatus>
{
    private ManualResetValueTaskSourceCore<OutcomeStatus> _completion = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _cancellation;
    private ITimer? _deadlineTimer;

    public WorkItem(ModelScheduler owner)
    {
        Owner = owner;
        Slice = new OutputSlice();
    }

    public ModelScheduler Owner { get; }

    public InferRequest Request { get; private set; } = null!;

    public WorkItemState State { get; set; }

    /// <summary>Queue level, 0 highest.</summary>
    public int Level { get; private set; }

    /// <summary>Intrusive queue links (no node allocation per request).</summary>
    public WorkItem? Previous { get; set; }

    public WorkItem? Next { get; set; }

    /// <summary>Rows this request adds to a batch.</summary>
    public int Rows { get; private set; }

    /// <summary>Timestamps from the scheduler's <see cref="TimeProvider"/>.</summary>
    public long EnqueuedAt { get; set; }

    public long StartedAt { get; set; }

    public long FinishedAt { get; set; }

    /// <summary>Absolute deadline timestamp, or 0 for none.</summary>
    public long Deadline { get; private set; }

    /// <summary>Rows of this request in the batch's outputs, and where its outputs sit there.</summary>
    public OutputSlice Slice { get; }

    /// <summary>The outputs when <see cref="OutcomeStatus.Succeeded"/>.</summary>
    public RunOutputs? Outputs { get; set; }

    public BackendError? Error { get; set; }

    /// <summary>Batch size of the execution this request was part of.</summary>
    public int BatchSize { get; set; }

    public void Initialise(InferRequest request, int level, long enqueuedAt, long deadline)
    {
        Request = request;
        Level = level;
        Rows = (int)request.BatchRows;
        EnqueuedAt = enqueuedAt;
        Deadline = deadline;
        State = WorkItemState.Idle;
    }

    /// <summary>The outcome, awaitable once.</summary>
    public ValueTask<OutcomeStatus> Completion => new(this, _completion.Version);

    public void Watch(TimeProvider time, TimeSpan deadlineIn, CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static state => ((WorkItem)state!).Owner.Cancel((WorkItem)state!, OutcomeStatus.Cancelled), this);
        }

        if (deadlineIn > TimeSpan.Zero)
        {
            _deadlineTimer = time.CreateTimer(static state => ((WorkItem)state!).Owner.Cancel((WorkItem)state!, OutcomeStatus.DeadlineExceeded), this, deadlineIn, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Completes the outcome; called once, outside the queue lock.</summary>
    public void Complete(OutcomeStatus status) => _completion.SetResult(status);

    /// <summary>
    /// Stops watching for cancellation and the deadline, waiting for a callback already running
    /// (so a pooled item can never be cancelled on behalf of its previous request).
    /// </summary>
    public ValueTask UnwatchAsync()
    {
        _cancellation.Dispose();
        _cancellation = default;
        var timer = _deadlineTimer;
        _deadlineTimer = null;
        return timer is null ? ValueTask.CompletedTask : timer.DisposeAsync();
    }

    /// <summary>Clears the item for reuse.</summary>
    public void Reset()
    {
        Outputs = null;
        Error = null;
        Slice.Clear();
        Request = null!;
        Previous = null;
        Next = null;
        BatchSize = 0;
        State = WorkItemState.Idle;
        _completion.Reset();
    }

    OutcomeStatus IValueTaskSource<OutcomeStatus>.GetResult(short token) => _completion.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<OutcomeStatus>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<OutcomeStatus>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);
}
