using System.Diagnostics;
using System.Threading.Tasks.Sources;
using Gateway.Abstractions;

namespace Gateway.Scheduling;

/// <summary>How a scheduled request ended.</summary>
public enum OutcomeStatus
{
    /// <summary>Executed; the item holds the outputs.</summary>
    Succeeded,

    /// <summary>Executed and failed; the item holds the error.</summary>
    Failed,

    /// <summary>Refused at once: the queue was at its bound (or the scheduler closed).</summary>
    QueueFull,

    /// <summary>Its deadline passed while queued; never executed.</summary>
    DeadlineExceeded,

    /// <summary>Its caller went away while queued; never executed.</summary>
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
/// outcome. Pooled per scheduler and completed through <see cref="ManualResetValueTaskSourceCore{T}"/>,
/// so a steady-state request allocates nothing here. Continuations run asynchronously unless the
/// scheduler completes with <c>synchronously</c> (a lone request finished by an execution thread
/// that has nothing else to do: running the caller's continuation there saves the thread pool's
/// wake-up, and delays no other request).
/// </summary>
public sealed class WorkItem : IValueTaskSource<OutcomeStatus>
{
    private ManualResetValueTaskSourceCore<OutcomeStatus> _completion = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _cancellation;
    private ITimer? _deadlineTimer;

    // The request's inputs and wanted outputs, copied at submission: batch forming and execution
    // read these plain arrays, never the request through its interface.
    private Tensor[] _inputs = new Tensor[2];
    private int _inputCount;
    private int[] _outputs = new int[4];
    private int _outputCount;

    /// <summary>An item of <paramref name="owner"/>'s pool; its cancellation and deadline are reported to the owner.</summary>
    internal WorkItem(ModelScheduler? owner)
    {
        Owner = owner;
        Slice = new OutputSlice();
    }

    internal ModelScheduler? Owner { get; }

    /// <summary>The request this item carries.</summary>
    public IScheduledRequest Request { get; private set; } = null!;

    internal WorkItemState State { get; set; }

    /// <summary>Queue level, 0 highest.</summary>
    public int Level { get; private set; }

    /// <summary>Intrusive queue links (no node allocation per request).</summary>
    internal WorkItem? Previous { get; set; }

    internal WorkItem? Next { get; set; }

    /// <summary>Rows this request adds to a batch.</summary>
    public int Rows { get; private set; }

    /// <summary>The request's inputs, in the model's input order.</summary>
    public ReadOnlySpan<Tensor> Inputs => _inputs.AsSpan(0, _inputCount);

    /// <summary>The request's wanted outputs, in response order.</summary>
    public ReadOnlySpan<int> WantedOutputs => _outputs.AsSpan(0, _outputCount);

    /// <summary>When it was queued, a timestamp of the scheduler's <see cref="TimeProvider"/>.</summary>
    public long EnqueuedAt { get; internal set; }

    /// <summary>When its execution started (0 if it never ran).</summary>
    public long StartedAt { get; internal set; }

    /// <summary>When its execution finished.</summary>
    public long FinishedAt { get; internal set; }

    /// <summary>Absolute deadline timestamp, or 0 for none.</summary>
    public long Deadline { get; private set; }

    /// <summary>Rows of this request in the batch's outputs, and where its outputs sit there.</summary>
    internal OutputSlice Slice { get; }

    /// <summary>The outputs when <see cref="OutcomeStatus.Succeeded"/>.</summary>
    public RunOutputs? Outputs { get; internal set; }

    /// <summary>The error when <see cref="OutcomeStatus.Failed"/>.</summary>
    public BackendError? Error { get; internal set; }

    /// <summary>Batch size of the execution this request was part of.</summary>
    public int BatchSize { get; internal set; }

    /// <summary>The submitting request's span, when tracing: the execution span links to it.</summary>
    public ActivityContext TraceContext { get; internal set; }

    /// <summary>True when the request ran on its own thread without queueing (the inline fast path).</summary>
    public bool RanInline { get; internal set; }

    /// <summary>
    /// Takes <paramref name="request"/>'s inputs and wanted outputs (copied into this pooled item,
    /// so a steady state allocates nothing) and its place in the queue.
    /// </summary>
    internal void Initialise(IScheduledRequest request, int level, long enqueuedAt, long deadline)
    {
        var inputs = request.BuildTensors();
        if (_inputs.Length < inputs.Length)
        {
            _inputs = new Tensor[inputs.Length];
        }

        inputs.CopyTo(_inputs);
        _inputCount = inputs.Length;
        var outputs = request.WantedOutputs;
        if (_outputs.Length < outputs.Length)
        {
            _outputs = new int[outputs.Length];
        }

        outputs.CopyTo(_outputs);
        _outputCount = outputs.Length;
        Request = request;
        Level = level;
        Rows = inputs.Length > 0 && inputs[0].Shape.Rank > 0 ? (int)inputs[0].Shape[0] : 1;
        EnqueuedAt = enqueuedAt;
        Deadline = deadline;
        State = WorkItemState.Idle;
    }

    /// <summary>The outcome, awaitable once.</summary>
    public ValueTask<OutcomeStatus> Completion => new(this, _completion.Version);

    internal void Watch(TimeProvider time, TimeSpan deadlineIn, CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(static state => ((WorkItem)state!).Owner!.Cancel((WorkItem)state!, OutcomeStatus.Cancelled), this);
        }

        if (deadlineIn > TimeSpan.Zero)
        {
            _deadlineTimer = time.CreateTimer(static state => ((WorkItem)state!).Owner!.Cancel((WorkItem)state!, OutcomeStatus.DeadlineExceeded), this, deadlineIn, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>
    /// Completes the outcome; called once, outside the queue lock. With <paramref name="synchronously"/>
    /// an awaiting caller's continuation runs on this thread before this returns.
    /// </summary>
    internal void Complete(OutcomeStatus status, bool synchronously = false)
    {
        // Read by SetResult on this thread only: the awaiter registering concurrently never reads it.
        _completion.RunContinuationsAsynchronously = !synchronously;
        _completion.SetResult(status);
    }

    /// <summary>
    /// Stops watching for cancellation and the deadline, waiting for a callback already running
    /// (so a pooled item can never be cancelled on behalf of its previous request).
    /// </summary>
    internal ValueTask UnwatchAsync()
    {
        _cancellation.Dispose();
        _cancellation = default;
        var timer = _deadlineTimer;
        _deadlineTimer = null;
        return timer is null ? ValueTask.CompletedTask : timer.DisposeAsync();
    }

    /// <summary>Clears the item for reuse.</summary>
    internal void Reset()
    {
        Outputs = null;
        Error = null;
        Slice.Clear();
        Request = null!;
        Array.Clear(_inputs, 0, _inputCount);
        _inputCount = 0;
        _outputCount = 0;
        Previous = null;
        Next = null;
        BatchSize = 0;
        TraceContext = default;
        RanInline = false;
        State = WorkItemState.Idle;
        _completion.Reset();
    }

    OutcomeStatus IValueTaskSource<OutcomeStatus>.GetResult(short token) => _completion.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<OutcomeStatus>.GetStatus(short token) => _completion.GetStatus(token);

    void IValueTaskSource<OutcomeStatus>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _completion.OnCompleted(continuation, state, token, flags);
}
