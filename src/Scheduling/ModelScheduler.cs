using System.Buffers;
using System.Diagnostics;
using Gateway.Abstractions;
using Microsoft.Extensions.ObjectPool;

namespace Gateway.Scheduling;

/// <summary>
/// The scheduler of one model version: a bounded priority queue, a batch former and
/// <see cref="SchedulingPolicy.InstanceCount"/> dedicated execution threads (never the thread
/// pool, since a backend's Run blocks for as long as the model computes). One thread at a time
/// holds the queue lock and forms a batch, so batch forming is a single loop in effect; the
/// others execute. Requests whose deadline passes or whose client goes away while queued are
/// removed and never executed; a failed execution fails only its own batch.
/// </summary>
public sealed partial class ModelScheduler : IDisposable
{
    private readonly object _lock = new();
    private readonly SchedulingPolicy _policy;
    private readonly IModelRunner _runner;
    private readonly string _modelName;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly BatchQueue _queue;
    private readonly Thread[] _threads;
    private readonly ObjectPool<WorkItem> _items;
    private readonly BatchExecutor _inlineExecutor;
    private readonly long _inlineThresholdTicks;
    private readonly bool _waitingCannotPay;
    private readonly ISchedulerObserver? _observer;

    // Per execution thread: the timestamp its current execution started, 0 when idle (health probe).
    private readonly long[] _runningSince;
    private long _lastFinishedAt;
    private ITimer? _windowTimer;
    private long _windowDue = long.MaxValue;
    private bool _closed;

    // Executions in progress (dedicated or inline), at most the instance count; under _lock.
    private int _running;

    // Execution threads parked in Monitor.Wait; under _lock. Submit pulses only when one is.
    private int _parked;

    // Requests ever queued: an execution thread spinning outside the lock watches it change.
    private int _queuedTotal;

    // Moving average of one execution's duration in timestamp ticks (1/8 weight per run).
    private long _averageComputeTicks;

    /// <summary>Starts the execution threads; see <see cref="SchedulerFactory"/>.</summary>
    internal ModelScheduler(string modelName, IModelRunner runner, SchedulingPolicy policy, TimeProvider time, ILogger logger, ISchedulerObserver? observer)
    {
        _observer = observer;
        _modelName = modelName;
        _runner = runner;
        _policy = policy;
        _time = time;
        _logger = logger;
        _queue = new BatchQueue(policy, time.TimestampFrequency);
        _items = new DefaultObjectPool<WorkItem>(new ItemPolicy(this), Math.Max(64, policy.MaxQueueSize / 4));
        Stats = new SchedulerStats(policy.MaxBatchSize);
        _inlineExecutor = new BatchExecutor(runner);
        _inlineThresholdTicks = (long)(policy.InlineThreshold.TotalSeconds * time.TimestampFrequency);
        _waitingCannotPay = WaitingCannotPay(policy);
        _threads = new Thread[policy.InstanceCount];
        _runningSince = new long[policy.InstanceCount];
        _lastFinishedAt = time.GetTimestamp();
        // The threads must not inherit the creator's execution context: a model loaded through the
        // repository API would otherwise lend that request's span and log scope to every execution.
        using (ExecutionContext.SuppressFlow())
        {
            for (var i = 0; i < _threads.Length; i++)
            {
                _threads[i] = new Thread(ExecuteLoop)
                {
                    IsBackground = true,
                    Name = $"{modelName}#{i}",
                };
                _threads[i].Start(i);
            }
        }
    }

    /// <summary>How this scheduler batches, bounds and times its queue.</summary>
    public SchedulingPolicy Policy => _policy;

    /// <summary>Its counters.</summary>
    public SchedulerStats Stats { get; }

    /// <summary>Requests waiting in the queue now.</summary>
    public int QueueDepth
    {
        get
        {
            lock (_lock)
            {
                return _queue.Count;
            }
        }
    }

    /// <summary>
    /// Dispatched batches by why they went: full (reached the target), at the end of the window,
    /// or early (the tuned decision found no wait that pays; see <see cref="TunedBatching"/>).
    /// </summary>
    public BatchDispatchCounts Dispatches
    {
        get
        {
            lock (_lock)
            {
                return new BatchDispatchCounts(_queue.DispatchedFull, _queue.DispatchedAtWindow, _queue.DispatchedEarly);
            }
        }
    }

    /// <summary>The clock of its timestamps.</summary>
    public TimeProvider Time => _time;

    /// <summary>
    /// Queues a parsed request. The returned item's <see cref="WorkItem.Completion"/> ends with
    /// the outcome (at once for a full queue); the caller must <see cref="ReleaseAsync"/> it
    /// after writing the response, which also releases the outputs.
    /// </summary>
    public WorkItem Submit(IScheduledRequest request, CancellationToken cancellationToken)
    {
        var item = _items.Get();
        var now = _time.GetTimestamp();
        var timeout = request.TimeoutMicroseconds > 0 && _policy.AllowTimeoutOverride
            ? TimeSpan.FromMicroseconds(request.TimeoutMicroseconds)
            : _policy.DefaultTimeout;
        var deadline = timeout > TimeSpan.Zero ? now + (long)(timeout.TotalSeconds * _time.TimestampFrequency) : 0;
        var level = request.Priority == 0 ? _policy.DefaultPriorityLevel - 1 : (int)request.Priority - 1;
        item.Initialise(request, Math.Clamp(level, 0, _policy.QueueLevels - 1), now, deadline);
        if (_observer is not null && _observer.Tracing)
        {
            // The execution span, built on another thread, links back to the request through this.
            item.TraceContext = Activity.Current?.Context ?? default;
        }

        var full = false;
        var inline = false;
        lock (_lock)
        {
            if (_queue.Count >= _policy.MaxQueueSize || _closed)
            {
                full = true;
                item.State = WorkItemState.Done;
            }
            else if (RunsInline())
            {
                // PERF: a short model with a free instance runs here, on the request's thread;
                // handing it to an execution thread and back costs two wake-ups.
                _running++;
                inline = true;
                item.State = WorkItemState.Executing;
            }
            else
            {
                _queue.Enqueue(item);
                item.State = WorkItemState.Queued;
                Volatile.Write(ref _queuedTotal, _queuedTotal + 1);
                if (_parked > 0)
                {
                    // A thread still spinning (or about to take its next batch) sees the queue
                    // itself; only a parked one needs the kernel to wake it.
                    Monitor.Pulse(_lock);
                }
            }
        }

        if (full)
        {
            Stats.Rejected(OutcomeStatus.QueueFull);
            item.Complete(OutcomeStatus.QueueFull);
            return item;
        }

        if (inline)
        {
            item.RanInline = true;
            ExecuteInline(item);
            return item;
        }

        // Watching starts after queueing: a token already cancelled removes the item at once.
        item.Watch(_time, timeout, cancellationToken);
        return item;
    }

    /// <summary>
    /// Under the lock: whether a request just submitted runs now on its caller's thread. The one
    /// place that decides it: an instance is free, nothing is queued, the model's runs are short
    /// (<see cref="SchedulingPolicy.InlineThreshold"/>), and queueing could not batch it with
    /// anything (<see cref="WaitingCannotPay"/>).
    /// </summary>
    private bool RunsInline() =>
        _queue.Count == 0
        && _running < _threads.Length
        && _inlineThresholdTicks > 0
        && Volatile.Read(ref _averageComputeTicks) <= _inlineThresholdTicks
        && _waitingCannotPay;

    /// <summary>
    /// Whether a lone request would be dispatched alone at once anyway, so running it on the
    /// caller's thread changes no batch: true for an unbatched model, for a batching one without a
    /// queue delay, and for one whose measured run-time curve says no larger batch pays for a
    /// single row (<see cref="TunedBatching.ShouldWait"/>). Fixed per loaded version, so decided once.
    /// </summary>
    private static bool WaitingCannotPay(SchedulingPolicy policy) =>
        !policy.Batching || policy.MaxQueueDelay <= TimeSpan.Zero || policy.Tuning is { } tuning && !tuning.ShouldWait(1);

    /// <summary>Removes a request that is still queued (client gone, or deadline passed).</summary>
    internal void Cancel(WorkItem item, OutcomeStatus reason)
    {
        lock (_lock)
        {
            if (item.State != WorkItemState.Queued)
            {
                return;
            }

            _queue.Remove(item);
            item.State = WorkItemState.Done;
        }

        Stats.Rejected(reason);
        item.Complete(reason);
    }

    /// <summary>Releases the outputs and returns the item to the pool.</summary>
    public ValueTask ReleaseAsync(WorkItem item)
    {
        item.Outputs?.Dispose();
        var pending = item.UnwatchAsync();
        if (pending.IsCompletedSuccessfully)
        {
            item.Reset();
            _items.Return(item);
            return ValueTask.CompletedTask;
        }

        return ReleaseSlowAsync(item, pending);
    }

    /// <summary>Seconds a refused client should wait: the queue's work at the recent execution rate.</summary>
    public int RetryAfterSeconds()
    {
        var executions = Stats.Executions;
        if (executions == 0)
        {
            return 1;
        }

        var perExecution = (double)Stats.ComputeTicks / executions / _time.TimestampFrequency;
        var batches = (double)QueueDepth / Math.Max(1, _policy.TargetBatchSize) / _threads.Length;
        return (int)Math.Clamp(Math.Ceiling(batches * perExecution), 1, 60);
    }

    /// <summary>Stops the threads once the queue is empty and waits for them.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _closed = true;
            Monitor.PulseAll(_lock);
        }

        foreach (var thread in _threads)
        {
            if (thread != Thread.CurrentThread)
            {
                thread.Join();
            }
        }

        _windowTimer?.Dispose();
    }

    private async ValueTask ReleaseSlowAsync(WorkItem item, ValueTask pending)
    {
        await pending;
        item.Reset();
        _items.Return(item);
    }

    /// <summary>
    /// Whether the scheduler is responding: null when so, else what is wrong. Looks for a dead
    /// execution thread, a queue lock held for over a second, an execution running longer than
    /// <paramref name="stallAfter"/>, or a queued request waiting that long with no execution
    /// finishing meanwhile. Never runs the model.
    /// </summary>
    public string? Probe(TimeSpan stallAfter)
    {
        foreach (var thread in _threads)
        {
            if (!thread.IsAlive)
            {
                return $"execution thread {thread.Name} has stopped";
            }
        }

        var now = _time.GetTimestamp();
        for (var i = 0; i < _runningSince.Length; i++)
        {
            var since = Volatile.Read(ref _runningSince[i]);
            if (since != 0 && _time.GetElapsedTime(since, now) > stallAfter)
            {
                return $"an execution on thread {_threads[i].Name} has run for {_time.GetElapsedTime(since, now).TotalSeconds:0.#} s";
            }
        }

        if (!Monitor.TryEnter(_lock, TimeSpan.FromSeconds(1)))
        {
            return "the scheduler's queue lock has been held for over a second";
        }

        try
        {
            if (_closed)
            {
                return "the scheduler is closed";
            }

            if (_queue.Count > 0)
            {
                var waited = _time.GetElapsedTime(_queue.OldestEnqueuedAt(), now);
                var sinceExecution = _time.GetElapsedTime(Volatile.Read(ref _lastFinishedAt), now);
                if (waited > stallAfter && sinceExecution > stallAfter)
                {
                    return $"{_queue.Count} request(s) queued, the oldest for {waited.TotalSeconds:0.#} s, and no execution finished in {sinceExecution.TotalSeconds:0.#} s";
                }
            }
        }
        finally
        {
            Monitor.Exit(_lock);
        }

        return null;
    }

    private void ExecuteLoop(object? state)
    {
        var index = (int)state!;
        var batch = new List<WorkItem>(Math.Max(1, _policy.MaxBatchSize));
        var expired = new List<WorkItem>();
        var executor = new BatchExecutor(_runner);
        var finished = false;
        while (true)
        {
            var more = TakeBatch(batch, expired, finished);
            finished = false;
            foreach (var item in expired)
            {
                Stats.Rejected(OutcomeStatus.DeadlineExceeded);
                item.Complete(OutcomeStatus.DeadlineExceeded);
            }

            expired.Clear();
            if (batch.Count > 0)
            {
                // The slot is given back in TakeBatch, under the same lock this thread takes
                // for its next batch: no second lock round, and no peer woken for work this
                // thread is about to take itself. Unless Execute gave it back already to run a
                // lone request's continuation here.
                finished = !Execute(executor, batch, index);
                batch.Clear();
            }

            if (!more)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Waits for work and forms a batch under the lock. Returns false when the scheduler is
    /// closed and drained. Expired requests found on the way are handed back for completion.
    /// </summary>
    private bool TakeBatch(List<WorkItem> batch, List<WorkItem> expired, bool finished)
    {
        var spun = false;
        Monitor.Enter(_lock);
        try
        {
            if (finished)
            {
                _running--;
            }

            while (true)
            {
                var now = _time.GetTimestamp();
                // All instances busy (inline runs count too): wait for the pulse of the run that frees one.
                var waitUntil = 0L;
                var decision = _running < _threads.Length
                    ? _queue.Decide(now, batch, expired, out waitUntil)
                    : BatchDecision.Empty;
                if (decision == BatchDecision.Dispatch)
                {
                    _running++;
                    foreach (var item in batch)
                    {
                        item.State = WorkItemState.Executing;
                    }

                    // More than this batch queued and an instance free: a parked peer takes it.
                    WakeForQueued();

                    foreach (var item in expired)
                    {
                        item.State = WorkItemState.Done;
                    }

                    return true;
                }

                if (expired.Count > 0)
                {
                    // They left the queue here: mark them so their deadline timer (or a cancellation)
                    // racing with the completion below finds them done, not queued.
                    foreach (var item in expired)
                    {
                        item.State = WorkItemState.Done;
                    }

                    return true;
                }

                if (_closed && _queue.Count == 0)
                {
                    return false;
                }

                if (decision == BatchDecision.Wait)
                {
                    ArmWindow(now, waitUntil);
                    if (_time.GetTimestamp() >= waitUntil)
                    {
                        // The clock passed the window while it was armed (a timer armed after
                        // that moment would fire late): decide again instead of waiting for it.
                        continue;
                    }
                }
                else if (!spun && !_closed && _running < _threads.Length)
                {
                    // PERF: the queue is empty. Parking costs a kernel wake-up (several µs) when the
                    // next request comes, and under load it comes within microseconds: look for it
                    // outside the lock for a moment first, yielding the core to runnable threads.
                    spun = true;
                    var seen = _queuedTotal;
                    Monitor.Exit(_lock);
                    try
                    {
                        SpinForWork(seen);
                    }
                    finally
                    {
                        Monitor.Enter(_lock);
                    }

                    continue;
                }

                _parked++;
                Monitor.Wait(_lock);
                _parked--;
                spun = false;
            }
        }
        finally
        {
            Monitor.Exit(_lock);
        }
    }

    /// <summary>How long an idle execution thread looks for new work before it parks.</summary>
    private static readonly long s_spinTicks = Stopwatch.Frequency / 20_000; // 50 µs

    /// <summary>Returns when a request has been queued since <paramref name="seen"/> or the spin budget is spent.</summary>
    private void SpinForWork(int seen)
    {
        var until = Stopwatch.GetTimestamp() + s_spinTicks;
        var spinner = default(SpinWait);
        while (Volatile.Read(ref _queuedTotal) == seen && !Volatile.Read(ref _closed) && Stopwatch.GetTimestamp() < until)
        {
            // Never Sleep(1): that would park for a millisecond, far longer than the budget.
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Wakes a waiting former when the oldest request's batching delay runs out.</summary>
    private void ArmWindow(long now, long due)
    {
        if (due >= _windowDue && _windowDue > now)
        {
            return;
        }

        _windowDue = due;
        // From the clock as it is now, not as it was when the batch was decided.
        var delay = TimeSpan.FromSeconds((double)Math.Max(0, due - _time.GetTimestamp()) / _time.TimestampFrequency);
        _windowTimer ??= _time.CreateTimer(static state => ((ModelScheduler)state!).WindowElapsed(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _windowTimer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    private void WindowElapsed()
    {
        lock (_lock)
        {
            _windowDue = long.MaxValue;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>
    /// Runs a request on the submitting thread, then, while requests queued behind it meanwhile
    /// (an unbatched model whose only instance this run held), runs up to
    /// <see cref="MaxInlineDrain"/> of them here too: the thread that holds the instance hands it
    /// on without a wake-up of the execution thread.
    /// </summary>
    private void ExecuteInline(WorkItem item)
    {
        List<WorkItem>? expired = null;
        for (var drained = 0; ; drained++)
        {
            var succeeded = RunInline(item);
            // A batching model's queue may form a batch of several: that is the execution threads' work.
            var next = FinishInline(drained < MaxInlineDrain && !_policy.Batching, ref expired);
            item.Complete(succeeded ? OutcomeStatus.Succeeded : OutcomeStatus.Failed);
            if (expired is { Count: > 0 })
            {
                foreach (var gone in expired)
                {
                    Stats.Rejected(OutcomeStatus.DeadlineExceeded);
                    gone.Complete(OutcomeStatus.DeadlineExceeded);
                }

                expired.Clear();
            }

            if (next is null)
            {
                return;
            }

            item = next;
        }
    }

    /// <summary>How many queued requests a thread that ran one inline may run after it.</summary>
    private const int MaxInlineDrain = 8;

    [ThreadStatic]
    private static List<WorkItem>? t_drained;

    /// <summary>
    /// Frees the inline run's slot and, when allowed, takes the next queued request for this
    /// thread (the slot held again); else wakes a parked execution thread if work waits for one.
    /// </summary>
    private WorkItem? FinishInline(bool mayTake, ref List<WorkItem>? expired)
    {
        lock (_lock)
        {
            _running--;
            if (mayTake && !_closed && _queue.Count > 0)
            {
                var batch = t_drained ??= new List<WorkItem>(1);
                expired ??= [];
                var decision = _queue.Decide(_time.GetTimestamp(), batch, expired, out _);
                foreach (var gone in expired)
                {
                    gone.State = WorkItemState.Done;
                }

                if (decision == BatchDecision.Dispatch)
                {
                    // Unbatched (the only policy that runs inline): one request.
                    var next = batch[0];
                    batch.Clear();
                    next.State = WorkItemState.Executing;
                    _running++;
                    WakeForQueued();
                    return next;
                }
            }

            WakeForQueued();
            return null;
        }
    }

    /// <summary>Under the lock: wakes a parked execution thread when requests wait and an instance is free.</summary>
    private void WakeForQueued()
    {
        if (_queue.Count > 0 && _running < _threads.Length && _parked > 0)
        {
            Monitor.Pulse(_lock);
        }
    }

    /// <summary>One inline run with its statistics and span; marks the item done (the caller completes it).</summary>
    private bool RunInline(WorkItem item)
    {
        var start = _time.GetTimestamp();
        item.StartedAt = start;
        var succeeded = false;
        Exception? thrown = null;
        var previous = Activity.Current;
        var span = _observer is not null && _observer.Tracing ? _observer.ExecutionStarting(new ReadOnlySpan<WorkItem>(ref item), item.Rows) : null;
        try
        {
            _inlineExecutor.ExecuteOne(item);
            succeeded = item.Error is null;
        }
        catch (Exception ex)
        {
            thrown = ex;
            Log.ExecutionThrew(_logger, ex, _modelName);
            item.Outputs?.Dispose();
            item.Outputs = null;
            item.Error = new BackendError(BackendErrorKind.ExecutionFailed, "the backend failed unexpectedly; see the server log");
        }

        var end = _time.GetTimestamp();
        Record(end - start);
        Stats.Executed(item.Rows, end - start, _time.GetUtcNow().ToUnixTimeMilliseconds());
        Stats.Finished(succeeded, end - item.EnqueuedAt, start - item.EnqueuedAt, end - start);
        Volatile.Write(ref _lastFinishedAt, end);
        _observer?.ExecutionFinished(new ReadOnlySpan<WorkItem>(ref item), item.Rows, span, previous, thrown);

        item.FinishedAt = end;
        item.BatchSize = item.Rows;
        item.State = WorkItemState.Done;
        return succeeded;
    }

    private void Record(long computeTicks)
    {
        var average = Volatile.Read(ref _averageComputeTicks);
        Volatile.Write(ref _averageComputeTicks, average + ((computeTicks - average) / 8));
    }

    /// <summary>
    /// Runs a batch on an execution thread and completes its requests. Returns true when it gave
    /// the instance back itself (see <see cref="ReleaseIfIdle"/>).
    /// </summary>
    private bool Execute(BatchExecutor executor, List<WorkItem> batch, int thread)
    {
        var start = _time.GetTimestamp();
        Volatile.Write(ref _runningSince[thread], start);
        var rowsQueued = 0;
        foreach (var item in batch)
        {
            item.StartedAt = start;
            rowsQueued += item.Rows;
        }

        var span = _observer is not null && _observer.Tracing ? _observer.ExecutionStarting(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batch), rowsQueued) : null;
        Exception? thrown = null;
        var rows = 0;
        try
        {
            rows = executor.Execute(batch);
        }
        catch (Exception ex)
        {
            thrown = ex;
            // A backend must return errors, not throw; if one does, only this batch fails.
            Log.ExecutionThrew(_logger, ex, _modelName);
            foreach (var item in batch)
            {
                item.Outputs?.Dispose();
                item.Outputs = null;
                item.Error = new BackendError(BackendErrorKind.ExecutionFailed, "the backend failed unexpectedly; see the server log");
            }
        }

        var end = _time.GetTimestamp();
        Volatile.Write(ref _runningSince[thread], 0);
        Volatile.Write(ref _lastFinishedAt, end);
        Record(end - start);
        Stats.Executed(rows, end - start, _time.GetUtcNow().ToUnixTimeMilliseconds());
        _observer?.ExecutionFinished(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(batch), rows > 0 ? rows : rowsQueued, span, null, thrown);

        foreach (var item in batch)
        {
            item.FinishedAt = end;
            item.BatchSize = rows;
            item.State = WorkItemState.Done;
            Stats.Finished(item.Error is null, end - item.EnqueuedAt, start - item.EnqueuedAt, end - start);
        }

        // PERF: a lone request of a short model and nothing queued: its caller's continuation
        // (writing the response) runs here instead of waking a thread-pool thread for it. Only for
        // short runs: the continuation goes on to read and parse the connection's next request on
        // this thread, and a long model's next request would then wait for that instead of running
        // (mobilenet_v2 at 16 callers lost a fifth of its rate), to save a wake-up it would not notice.
        var synchronously = batch.Count == 1 && _time.GetElapsedTime(start, end) <= _policy.ContinueOnExecutionThreadBelow && ReleaseIfIdle();
        foreach (var item in batch)
        {
            item.Complete(item.Error is null ? OutcomeStatus.Succeeded : OutcomeStatus.Failed, synchronously);
        }

        return synchronously;
    }

    /// <summary>
    /// Gives the finished execution's instance back when nothing is queued, so that while this thread
    /// runs a caller's continuation a new request can still run (inline, or on a peer). False, slot
    /// kept, when work waits: this thread takes it next in <see cref="TakeBatch"/>.
    /// </summary>
    private bool ReleaseIfIdle()
    {
        // Unlocked look first: under load the queue is rarely empty, and then no extra lock round.
        if (_queue.Count > 0)
        {
            return false;
        }

        lock (_lock)
        {
            if (_queue.Count > 0 || _closed)
            {
                return false;
            }

            _running--;
            return true;
        }
    }

    private sealed class ItemPolicy(ModelScheduler owner) : PooledObjectPolicy<WorkItem>
    {
        public override WorkItem Create() => new(owner);

        public override bool Return(WorkItem item) => true;
    }

    private static partial class Log
    {
        [LoggerMessage(300, LogLevel.Error, "The backend of model {Model} threw instead of returning an error")]
        public static partial void ExecutionThrew(ILogger logger, Exception exception, string model);
    }
}
