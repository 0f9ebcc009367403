using System.Diagnostics;
using Gateway.Repository;
using Gateway.Scheduling;
using Prometheus;

namespace Gateway.Telemetry;

/// <summary>
/// The metrics and spans of one model version, resolved when it loads: its Prometheus children,
/// its OpenTelemetry tags, and the span helpers the request path and the execution threads call.
/// Recording a request costs a few interlocked updates and no allocation; spans are built only
/// while something listens to <see cref="GatewayTelemetry.Source"/>. The version's scheduler
/// reports its executions here, as its <see cref="ISchedulerObserver"/>.
/// </summary>
internal sealed class ModelTelemetry : ISchedulerObserver
{
    private readonly GatewayMetrics _metrics;
    private readonly Histogram.Child? _queue;
    private readonly Histogram.Child? _compute;
    private readonly Histogram.Child? _total;
    private readonly Histogram.Child? _batchSize;
    private readonly Counter.Child[]? _outcomes;
    private readonly KeyValuePair<string, object?>[] _spanTags;
    private ModelVersion? _version;

    internal ModelTelemetry(
        GatewayMetrics metrics, string model, string version, string backend, string device,
        Histogram.Child? queue, Histogram.Child? compute, Histogram.Child? total, Histogram.Child? batchSize, Counter.Child[]? outcomes)
    {
        _metrics = metrics;
        Model = model;
        Version = version;
        _queue = queue;
        _compute = compute;
        _total = total;
        _batchSize = batchSize;
        _outcomes = outcomes;
        Tags = [new(GatewayTelemetry.ModelAttribute, model), new(GatewayTelemetry.VersionAttribute, version)];
        _spanTags =
        [
            new(GatewayTelemetry.ModelAttribute, model),
            new(GatewayTelemetry.VersionAttribute, version),
            new(GatewayTelemetry.BackendAttribute, backend),
            new(GatewayTelemetry.DeviceAttribute, device),
        ];
    }

    public string Model { get; }

    public string Version { get; }

    /// <summary>Model and version as OpenTelemetry tags.</summary>
    public KeyValuePair<string, object?>[] Tags { get; }

    internal int QueueDepth => _version?.Scheduler.QueueDepth ?? 0;

    internal int InFlight => _version?.InFlight ?? 0;

    /// <summary>The version's scheduling policy (its measured batching decision included), once bound.</summary>
    internal SchedulingPolicy? Policy => _version?.Scheduler.Policy;

    /// <summary>The version's batches by why they were dispatched.</summary>
    internal BatchDispatchCounts Dispatches => _version?.Scheduler.Dispatches ?? default;

    /// <summary>Starts reporting the version's queue depth and in-flight gauges.</summary>
    public void Bind(ModelVersion version)
    {
        _version = version;
        _metrics.Track(this);
    }

    /// <summary>Stops reporting the gauges (the version was retired).</summary>
    public void Unbind() => _metrics.Untrack(this);

    /// <summary>Records how a request ended and, if it executed, its queue, compute and total time.</summary>
    public void Completed(WorkItem item, OutcomeStatus outcome, long started, long now, TimeProvider time)
    {
        _outcomes?[(int)outcome].Inc();
        // PERF: successes are the count of the total-phase histogram; the OTel counter holds the rest.
        var requests = _metrics.InferenceRequests;
        if (outcome != OutcomeStatus.Succeeded && requests.Enabled)
        {
            requests.Add(1, Tags[0], Tags[1], new KeyValuePair<string, object?>(GatewayTelemetry.OutcomeAttribute, GatewayMetrics.OutcomeLabels[(int)outcome]));
        }

        switch (outcome)
        {
            case OutcomeStatus.Succeeded or OutcomeStatus.Failed:
                var frequency = (double)time.TimestampFrequency;
                var queue = (item.StartedAt - item.EnqueuedAt) / frequency;
                var compute = (item.FinishedAt - item.StartedAt) / frequency;
                var total = (now - started) / frequency;
                _queue?.Observe(queue);
                _compute?.Observe(compute);
                _total?.Observe(total);
                var duration = _metrics.InferenceDuration;
                if (duration.Enabled)
                {
                    duration.Record(queue, Tags[0], Tags[1], new KeyValuePair<string, object?>(GatewayTelemetry.PhaseAttribute, "queue"));
                    duration.Record(compute, Tags[0], Tags[1], new KeyValuePair<string, object?>(GatewayTelemetry.PhaseAttribute, "compute"));
                    duration.Record(total, Tags[0], Tags[1], new KeyValuePair<string, object?>(GatewayTelemetry.PhaseAttribute, "total"));
                }

                break;
            case OutcomeStatus.QueueFull:
                _metrics.Rejected(RejectionReason.QueueFull);
                break;
            case OutcomeStatus.DeadlineExceeded:
                _metrics.Rejected(RejectionReason.Deadline);
                break;
            case OutcomeStatus.Cancelled:
                _metrics.Rejected(RejectionReason.Cancelled);
                break;
        }
    }

    /// <inheritdoc />
    public bool Tracing => GatewayTelemetry.Source.HasListeners();

    /// <inheritdoc />
    Activity? ISchedulerObserver.ExecutionStarting(ReadOnlySpan<WorkItem> batch, int rows) => StartExecution(batch, rows);

    /// <inheritdoc />
    void ISchedulerObserver.ExecutionFinished(ReadOnlySpan<WorkItem> batch, int rows, Activity? span, Activity? previous, Exception? thrown)
    {
        Executed(rows);
        if (span is not null)
        {
            StopExecution(span, previous, batch[0], thrown);
        }
    }

    /// <summary>Records one execution's rows (on the execution thread).</summary>
    public void Executed(int rows)
    {
        _batchSize?.Observe(rows);
        var batch = _metrics.BatchSize;
        if (batch.Enabled)
        {
            batch.Record(rows, Tags[0], Tags[1]);
        }
    }

    /// <summary>
    /// Starts the span of one execution. It is linked to every traced request in the batch; with a single
    /// request it is also that request's child, so the common unbatched case reads as one tree.
    /// A batch of several requests starts its own trace: it cannot belong to one of them.
    /// Call only when <see cref="GatewayTelemetry.Source"/> has listeners.
    /// </summary>
    public Activity? StartExecution(ReadOnlySpan<WorkItem> batch, int rows)
    {
        // PERF: a request whose span is not sampled is not traced further: a lone one's execution
        // would be the child of a dropped span, and a batch links only the requests that are
        // traced, so a batch of none gets no span. Links, the sampler call and the Activity are
        // skipped, the common case at a low sampling ratio (and for every request when the host
        // made no span: then the context is empty).
        var count = 0;
        foreach (var item in batch)
        {
            count += item.TraceContext.TraceFlags.HasFlag(ActivityTraceFlags.Recorded) ? 1 : 0;
        }

        if (count == 0)
        {
            return null;
        }

        var links = new ActivityLink[count];
        count = 0;
        foreach (var item in batch)
        {
            if (item.TraceContext.TraceFlags.HasFlag(ActivityTraceFlags.Recorded))
            {
                links[count++] = new ActivityLink(item.TraceContext);
            }
        }

        var parent = batch.Length == 1 ? batch[0].TraceContext : default;
        var activity = GatewayTelemetry.Source.StartActivity(GatewayTelemetry.ExecuteSpan, ActivityKind.Internal, parent, _spanTags, links);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(GatewayTelemetry.BatchSizeAttribute, rows);
            activity.SetTag(GatewayTelemetry.BatchRequestsAttribute, batch.Length);
        }

        return activity;
    }

    /// <summary>
    /// Ends an execution span with the batch's result and makes <paramref name="previous"/> current
    /// again (a span started under an explicit parent would otherwise leave no current span behind).
    /// </summary>
    public static void StopExecution(Activity activity, Activity? previous, WorkItem first, Exception? exception)
    {
        if (exception is not null)
        {
            activity.AddException(exception);
            activity.SetStatus(ActivityStatusCode.Error, "the backend threw");
        }
        else if (first.Error is { } error)
        {
            activity.SetTag("error.type", error.Kind.ToString());
            activity.SetStatus(ActivityStatusCode.Error, error.Message);
        }

        activity.Stop();
        Activity.Current = previous;
    }

    /// <summary>
    /// Records the request's wait in the queue as a child of the current (server) span, after the
    /// fact from the work item's timestamps; none for a request that never queued. Call only when
    /// the source has listeners.
    /// </summary>
    public void TraceQueue(WorkItem item, OutcomeStatus outcome, long now, TimeProvider time)
    {
        // PERF: a request that never queued (refused at once, or run inline) has no wait to show.
        if (outcome == OutcomeStatus.QueueFull || item.RanInline || Activity.Current is not { Recorded: true })
        {
            return;
        }

        var end = item.StartedAt != 0 ? item.StartedAt : now;
        var wallNow = time.GetUtcNow();
        var start = wallNow - time.GetElapsedTime(item.EnqueuedAt, now);
        // The default parent is the current (server) span, which Stop() then makes current again.
        var activity = GatewayTelemetry.Source.StartActivity(GatewayTelemetry.QueueSpan, ActivityKind.Internal, default(ActivityContext), _spanTags, links: null, start);
        if (activity is null)
        {
            return;
        }

        if (activity.IsAllDataRequested)
        {
            activity.SetTag(GatewayTelemetry.OutcomeAttribute, GatewayMetrics.OutcomeLabels[(int)outcome]);
            if (item.BatchSize > 0)
            {
                activity.SetTag(GatewayTelemetry.BatchSizeAttribute, item.BatchSize);
            }

            if (outcome is OutcomeStatus.DeadlineExceeded or OutcomeStatus.Cancelled)
            {
                activity.SetStatus(ActivityStatusCode.Error, outcome == OutcomeStatus.DeadlineExceeded ? "deadline passed in the queue" : "client went away");
            }
        }

        activity.SetEndTime((wallNow - time.GetElapsedTime(end, now)).UtcDateTime);
        activity.Stop();
    }

    /// <summary>Tags the request's server span with the model it resolved to.</summary>
    public void TagServerSpan()
    {
        if (Activity.Current is { Recorded: true } server)
        {
            server.SetTag(GatewayTelemetry.ModelAttribute, Model);
            server.SetTag(GatewayTelemetry.VersionAttribute, Version);
        }
    }
}
