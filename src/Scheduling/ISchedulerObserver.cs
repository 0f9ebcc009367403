using System.Diagnostics;

namespace Gateway.Scheduling;

/// <summary>
/// Listens to one scheduler's executions (telemetry implements it), so the scheduler records no
/// metrics and builds no spans itself. Called on the executing thread: implementations must not
/// block and should not allocate unless tracing.
/// </summary>
public interface ISchedulerObserver
{
    /// <summary>
    /// True while executions are traced. When so, <see cref="ModelScheduler.Submit"/> keeps the
    /// submitting request's trace context on its work item and each execution is wrapped in
    /// <see cref="ExecutionStarting"/> and <see cref="ExecutionFinished"/>'s span.
    /// </summary>
    bool Tracing { get; }

    /// <summary>
    /// An execution of <paramref name="batch"/> (<paramref name="rows"/> rows) is about to run.
    /// Called only while <see cref="Tracing"/>; returns the span to end, if any.
    /// </summary>
    Activity? ExecutionStarting(ReadOnlySpan<WorkItem> batch, int rows);

    /// <summary>
    /// An execution ended, before its callers are completed: <paramref name="rows"/> were run,
    /// the items carry their outputs or errors, <paramref name="thrown"/> is set when the backend
    /// threw. Ends <paramref name="span"/> when not null and makes <paramref name="previous"/>
    /// current again.
    /// </summary>
    void ExecutionFinished(ReadOnlySpan<WorkItem> batch, int rows, Activity? span, Activity? previous, Exception? thrown);
}
