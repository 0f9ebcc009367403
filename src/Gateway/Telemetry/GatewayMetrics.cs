using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Gateway.Scheduling;
using Prometheus;

namespace Gateway.Telemetry;

/// <summary>Why a request was refused; the <c>reason</c> label of <c>gateway_rejected_requests_total</c>.</summary>
internal enum RejectionReason
{
    QueueFull,
    Deadline,
    Cancelled,
    RateLimited,
    Unauthorised,
    Forbidden,
}

/// <summary>
/// The gateway's metrics, kept twice from the same calls: as Prometheus series in this host's own
/// registry (served by <c>/metrics</c>) and as OpenTelemetry instruments on the <c>Gateway</c>
/// meter (exported over OTLP only when an endpoint is set; an instrument nobody listens to costs
/// one branch). Labelled children are resolved once per model version when it loads
/// (<see cref="ForModel"/>), never per request; label values come from loaded models, route
/// templates and fixed lists, so no client input can create a series.
/// </summary>
/// <remarks>
/// Other components report rejections here: the scheduler's through
/// <see cref="ModelTelemetry.Outcome"/>, authentication and rate limiting through
/// <see cref="Unauthorised"/>, <see cref="Forbidden"/> and <see cref="RateLimited"/>.
/// </remarks>
internal sealed class GatewayMetrics : IDisposable
{
    /// <summary>Label values of <see cref="RejectionReason"/>, in its order.</summary>
    public static readonly string[] ReasonLabels = ["queue_full", "deadline", "cancelled", "rate_limited", "unauthorised", "forbidden"];

    /// <summary>Label values of <see cref="OutcomeStatus"/>, in its order.</summary>
    public static readonly string[] OutcomeLabels = ["success", "failure", "queue_full", "deadline", "cancelled"];

    private static readonly string[] s_methods = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "OTHER"];

    private readonly Meter _meter;
    private readonly ConcurrentDictionary<ModelTelemetry, byte> _live = new();
    private readonly ConcurrentDictionary<HttpKey, Histogram.Child> _httpChildren = new();
    private readonly HashSet<(string Model, string Version)> _publishedModels = [];
    private readonly Dictionary<(string, string), (int Queue, int InFlight)> _gaugeScratch = [];
    private readonly Nvml? _nvml;
    private readonly Counter.Child[] _rejectionChildren = [];
    private long _httpInFlight;

    // Prometheus collectors; null when Telemetry:Metrics:Enabled is false.
    private readonly Histogram? _httpDuration;
    private readonly Gauge? _httpInFlightGauge;
    private readonly Histogram? _inferenceDuration;
    private readonly Histogram? _batchSize;
    private readonly Counter? _inferenceRequests;
    private readonly Gauge? _queueDepth;
    private readonly Gauge? _inferenceInFlight;
    private readonly Gauge? _modelLoadSeconds;
    private readonly Counter? _modelLoads;
    private readonly Gauge? _modelsLoaded;
    private readonly Gauge? _batchingTuned;
    private readonly Gauge? _batchingBestSize;
    private readonly Gauge? _batchingRunSeconds;
    private readonly Counter? _batchingDispatches;
    private readonly Dictionary<(string Model, string Version), string[]> _publishedCurves = [];
    private readonly Gauge? _gpuUtilisation;
    private readonly Gauge? _gpuMemoryUsed;
    private readonly Gauge? _gpuMemoryTotal;
    private readonly Gauge? _threadPoolThreads;
    private readonly Gauge? _threadPoolQueue;
    private readonly Counter? _threadPoolCompleted;
    private readonly Counter? _allocatedBytes;
    private readonly Counter? _gcPause;
    private readonly Gauge? _gcHeapSize;
    private readonly Counter? _lockContentions;

    public GatewayMetrics(TelemetryOptions options, ILogger<GatewayMetrics> logger)
    {
        PrometheusEnabled = options.Metrics.Enabled;
        _meter = new Meter(GatewayTelemetry.Name, Protocol.V2Endpoints.ServerVersion);
        var inferenceBuckets = options.Metrics.EffectiveInferenceBuckets;
        InferenceDuration = _meter.CreateHistogram(
            "gateway.inference.duration", "s", "Time of inference requests by phase: queue, compute, total.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = inferenceBuckets });
        BatchSize = _meter.CreateHistogram<int>(
            "gateway.inference.batch.size", "{row}", "Rows per backend execution.",
            advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = Array.ConvertAll(options.Metrics.EffectiveBatchSizeBuckets, static b => (int)b) });
        InferenceRequests = _meter.CreateCounter<long>("gateway.inference.requests", "{request}", "Inference requests that did not succeed, by outcome (successes: the count of gateway.inference.duration, phase total).");
        Rejections = _meter.CreateCounter<long>("gateway.rejections", "{request}", "Requests refused, by reason.");
        ModelLoadDuration = _meter.CreateHistogram<double>("gateway.model.load.duration", "s", "Time to load and warm up a model version.");
        _meter.CreateObservableGauge("gateway.inference.queue.depth", ObserveQueueDepth, "{request}", "Requests waiting in a model's queue.");
        _meter.CreateObservableUpDownCounter("gateway.inference.in_flight", ObserveInFlight, "{request}", "Requests holding a model version.");
        _meter.CreateObservableGauge("gateway.batching.best_batch_size", ObserveBestBatchSize, "{row}", "Batch size with the most rows per second on the run-time curve measured at load (1: a lone request is never held); 0 when the batching model keeps the configured window.");
        _meter.CreateObservableGauge("gateway.batching.run.duration", ObserveRunCurve, "s", "A batching model version's run time by batch size, measured at load.");
        if (options.Gpu.Enabled)
        {
            _nvml = Nvml.TryOpen(options.Gpu.Library, logger);
            if (_nvml is not null)
            {
                _meter.CreateObservableGauge("gateway.gpu.utilization", ObserveGpuUtilisation, "1", "GPU utilisation over NVML's last sample period (0 to 1).");
                _meter.CreateObservableGauge("gateway.gpu.memory.used", ObserveGpuMemory, "By", "GPU memory in use.");
            }
        }

        Registry = Metrics.NewCustomRegistry();
        if (!PrometheusEnabled)
        {
            return;
        }

        // PERF: no exemplars: they would read Activity.Current and rate-limit on every observation.
        var factory = Metrics.WithCustomRegistry(Registry);
        factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        DotNetStats.Register(Registry);

        _httpDuration = factory.CreateHistogram("gateway_http_request_duration_seconds", "HTTP request duration by method, route template and status code.",
            new HistogramConfiguration { LabelNames = ["method", "route", "code"], Buckets = options.Metrics.EffectiveHttpBuckets });
        _httpInFlightGauge = factory.CreateGauge("gateway_http_requests_in_flight", "HTTP requests being served.");
        _inferenceDuration = factory.CreateHistogram("gateway_inference_duration_seconds", "Inference time by model, version and phase (queue, compute, total).",
            new HistogramConfiguration { LabelNames = ["model", "version", "phase"], Buckets = inferenceBuckets });
        _batchSize = factory.CreateHistogram("gateway_inference_batch_size", "Rows per backend execution, by model and version.",
            new HistogramConfiguration { LabelNames = ["model", "version"], Buckets = options.Metrics.EffectiveBatchSizeBuckets });
        _inferenceRequests = factory.CreateCounter("gateway_inference_requests_total", "Inference requests by model, version and outcome.",
            new CounterConfiguration { LabelNames = ["model", "version", "outcome"] });
        var rejections = factory.CreateCounter("gateway_rejected_requests_total", "Requests refused, by reason.",
            new CounterConfiguration { LabelNames = ["reason"] });
        _rejectionChildren = Array.ConvertAll(ReasonLabels, reason => rejections.WithLabels(reason));
        _queueDepth = factory.CreateGauge("gateway_inference_queue_depth", "Requests waiting in a model version's queue.", "model", "version");
        _inferenceInFlight = factory.CreateGauge("gateway_inference_in_flight", "Requests holding a model version (queued, executing or writing).", "model", "version");
        _modelLoadSeconds = factory.CreateGauge("gateway_model_load_duration_seconds", "Time the last load of a model version took, warm-up included.", "model", "version");
        _modelLoads = factory.CreateCounter("gateway_model_loads_total", "Model version loads by result.", "model", "result");
        _modelsLoaded = factory.CreateGauge("gateway_model_versions_loaded", "Model versions being served.");
        _batchingTuned = factory.CreateGauge("gateway_batching_tuned", "1 when a batching model version decides its waits from the run-time curve measured at load, 0 when it keeps the configured window.", "model", "version");
        _batchingBestSize = factory.CreateGauge("gateway_batching_best_batch_size", "Batch size with the most rows per second on the measured curve (1: a lone request is never held).", "model", "version");
        _batchingRunSeconds = factory.CreateGauge("gateway_batching_run_seconds", "A batching model version's run time by batch size, measured at load.", "model", "version", "batch_size");
        _batchingDispatches = factory.CreateCounter("gateway_batching_dispatches_total", "Batches dispatched by why: full (reached the target), window (the delay ran out), early (the tuned decision found no wait that pays).", "model", "version", "reason");
        if (_nvml is not null)
        {
            _gpuUtilisation = factory.CreateGauge("gateway_gpu_utilization_ratio", "GPU utilisation over NVML's last sample period (0 to 1).", "gpu", "name");
            _gpuMemoryUsed = factory.CreateGauge("gateway_gpu_memory_used_bytes", "GPU memory in use.", "gpu", "name");
            _gpuMemoryTotal = factory.CreateGauge("gateway_gpu_memory_total_bytes", "GPU memory in all.", "gpu", "name");
        }

        _threadPoolThreads = factory.CreateGauge("dotnet_threadpool_threads", "Thread pool threads.");
        _threadPoolQueue = factory.CreateGauge("dotnet_threadpool_queue_length", "Work items queued to the thread pool.");
        _threadPoolCompleted = factory.CreateCounter("dotnet_threadpool_completed_items_total", "Work items the thread pool has completed.");
        _allocatedBytes = factory.CreateCounter("dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap.");
        _gcPause = factory.CreateCounter("dotnet_gc_pause_seconds_total", "Time the garbage collector paused the process.");
        _gcHeapSize = factory.CreateGauge("dotnet_gc_heap_size_bytes", "Managed heap size after the last collection.");
        _lockContentions = factory.CreateCounter("dotnet_lock_contentions_total", "Times a thread waited for a contended Monitor lock.");
        Registry.AddBeforeCollectCallback(BeforeCollect);
    }

    /// <summary>The registry <c>/metrics</c> serves: this host's own, so several hosts in one process never mix.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>True when Prometheus metrics are kept.</summary>
    public bool PrometheusEnabled { get; }

    /// <summary>True when NVML was found and GPU metrics are kept.</summary>
    public bool HasGpu => _nvml is not null;

    internal Histogram<double> InferenceDuration { get; }

    internal Histogram<int> BatchSize { get; }

    internal Counter<long> InferenceRequests { get; }

    internal Counter<long> Rejections { get; }

    internal Histogram<double> ModelLoadDuration { get; }

    /// <summary>The Prometheus children and OTel tags of one model version; called at load.</summary>
    public ModelTelemetry ForModel(string model, string version, string backend, string device) => new(
        this, model, version, backend, device,
        _inferenceDuration?.WithLabels(model, version, "queue"),
        _inferenceDuration?.WithLabels(model, version, "compute"),
        _inferenceDuration?.WithLabels(model, version, "total"),
        _batchSize?.WithLabels(model, version),
        _inferenceRequests is null ? null : Array.ConvertAll(OutcomeLabels, outcome => _inferenceRequests.WithLabels(model, version, outcome)));

    /// <summary>A request refused for missing or invalid credentials (401).</summary>
    public void Unauthorised() => Rejected(RejectionReason.Unauthorised);

    /// <summary>A request refused because the caller's role is too low (403).</summary>
    public void Forbidden() => Rejected(RejectionReason.Forbidden);

    /// <summary>A request refused by the rate limiter (429).</summary>
    public void RateLimited() => Rejected(RejectionReason.RateLimited);

    public void Rejected(RejectionReason reason)
    {
        if (_rejectionChildren.Length > 0)
        {
            _rejectionChildren[(int)reason].Inc();
        }

        if (Rejections.Enabled)
        {
            Rejections.Add(1, new KeyValuePair<string, object?>(GatewayTelemetry.ReasonAttribute, ReasonLabels[(int)reason]));
        }
    }

    /// <summary>Records a model version load attempt (load and warm-up).</summary>
    public void ModelLoaded(string model, string version, double seconds, bool succeeded)
    {
        if (succeeded)
        {
            _modelLoadSeconds?.WithLabels(model, version).Set(seconds);
        }

        _modelLoads?.WithLabels(model, succeeded ? "success" : "failure").Inc();
        if (ModelLoadDuration.Enabled)
        {
            ModelLoadDuration.Record(seconds, new KeyValuePair<string, object?>(GatewayTelemetry.ModelAttribute, model), new KeyValuePair<string, object?>(GatewayTelemetry.VersionAttribute, version));
        }
    }

    /// <summary>An HTTP request has started; paired with <see cref="HttpFinished"/>.</summary>
    public void HttpStarted() => Interlocked.Increment(ref _httpInFlight);

    /// <summary>
    /// Records an HTTP request's duration under its route template, method and status. The
    /// child for each (endpoint, method, status) is created once and then found without allocating.
    /// </summary>
    public void HttpFinished(HttpContext context, double seconds)
    {
        Interlocked.Decrement(ref _httpInFlight);
        if (_httpDuration is null)
        {
            return;
        }

        var status = context.Response.StatusCode;
        if (status == StatusCodes.Status200OK && Grpc.GrpcStatusMap.IsGrpc(context.Request))
        {
            // gRPC answers HTTP 200 whatever happened; the call's own status is in grpc-status.
            status = Grpc.GrpcStatusMap.CallStatus(context);
        }

        var key = new HttpKey(context.GetEndpoint(), MethodIndex(context.Request.Method), status is >= 100 and <= 599 ? status : 0);
        if (!_httpChildren.TryGetValue(key, out var child))
        {
            child = AddHttpChild(key);
        }

        child.Observe(seconds);
    }

    internal void Track(ModelTelemetry model) => _live[model] = 0;

    internal void Untrack(ModelTelemetry model) => _live.TryRemove(model, out _);

    public void Dispose()
    {
        _meter.Dispose();
        _nvml?.Dispose();
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private Histogram.Child AddHttpChild(HttpKey key)
    {
        var route = key.Endpoint switch
        {
            RouteEndpoint endpoint => endpoint.RoutePattern.RawText ?? "unknown",
            null => "unmatched",
            _ => "other",
        };
        var code = key.Status == 0 ? "other" : key.Status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return _httpChildren.GetOrAdd(key, _httpDuration!.WithLabels(s_methods[key.Method], route, code));
    }

    private static int MethodIndex(string method)
    {
        // PERF: Kestrel interns the common methods, so these compare by reference first.
        if (HttpMethods.IsPost(method))
        {
            return 1;
        }

        if (HttpMethods.IsGet(method))
        {
            return 0;
        }

        return HttpMethods.IsPut(method) ? 2
            : HttpMethods.IsDelete(method) ? 3
            : HttpMethods.IsHead(method) ? 4
            : HttpMethods.IsOptions(method) ? 5
            : HttpMethods.IsPatch(method) ? 6
            : 7;
    }

    /// <summary>Sets the gauges that are read rather than counted, just before a scrape.</summary>
    private void BeforeCollect()
    {
        lock (_publishedModels)
        {
            _gaugeScratch.Clear();
            foreach (var (model, _) in _live)
            {
                // A reload keeps the old and new version live for a moment under the same labels: sum them.
                var key = (model.Model, model.Version);
                _gaugeScratch.TryGetValue(key, out var sum);
                _gaugeScratch[key] = (sum.Queue + model.QueueDepth, sum.InFlight + model.InFlight);
            }

            foreach (var ((name, version), (queue, inFlight)) in _gaugeScratch)
            {
                _queueDepth!.WithLabels(name, version).Set(queue);
                _inferenceInFlight!.WithLabels(name, version).Set(inFlight);
                _publishedModels.Add((name, version));
            }

            // Unloaded versions' gauges go away; their histograms and counters stay, as counters should.
            _publishedModels.RemoveWhere(published =>
            {
                if (_gaugeScratch.ContainsKey(published))
                {
                    return false;
                }

                _queueDepth!.RemoveLabelled(published.Model, published.Version);
                _inferenceInFlight!.RemoveLabelled(published.Model, published.Version);
                _batchingTuned!.RemoveLabelled(published.Model, published.Version);
                _batchingBestSize!.RemoveLabelled(published.Model, published.Version);
                if (_publishedCurves.Remove(published, out var sizes))
                {
                    foreach (var size in sizes)
                    {
                        _batchingRunSeconds!.RemoveLabelled(published.Model, published.Version, size);
                    }
                }

                return true;
            });

            foreach (var (model, _) in _live)
            {
                CollectBatching(model);
            }

            _modelsLoaded!.Set(_live.Count);
        }

        _httpInFlightGauge!.Set(Volatile.Read(ref _httpInFlight));
        if (_nvml is not null)
        {
            for (var i = 0; i < _nvml.DeviceCount; i++)
            {
                if (_nvml.TryRead(i, out var sample))
                {
                    var index = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    _gpuUtilisation!.WithLabels(index, sample.Name).Set(sample.Utilisation);
                    _gpuMemoryUsed!.WithLabels(index, sample.Name).Set(sample.MemoryUsed);
                    _gpuMemoryTotal!.WithLabels(index, sample.Name).Set(sample.MemoryTotal);
                }
            }
        }

        _threadPoolThreads!.Set(ThreadPool.ThreadCount);
        _threadPoolQueue!.Set(ThreadPool.PendingWorkItemCount);
        _threadPoolCompleted!.IncTo(ThreadPool.CompletedWorkItemCount);
        _allocatedBytes!.IncTo(GC.GetTotalAllocatedBytes());
        _gcPause!.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
        _gcHeapSize!.Set(GC.GetGCMemoryInfo().HeapSizeBytes);
        _lockContentions!.IncTo(Monitor.LockContentionCount);
    }

    /// <summary>Under the gauge lock: the batching policy's gauges and dispatch counters of one live version.</summary>
    private void CollectBatching(ModelTelemetry model)
    {
        if (model.Policy is not { Batching: true } policy)
        {
            return;
        }

        var tuning = policy.Tuning;
        _batchingTuned!.WithLabels(model.Model, model.Version).Set(tuning is null ? 0 : 1);
        _batchingBestSize!.WithLabels(model.Model, model.Version).Set(tuning?.BestBatchSize ?? 0);
        if (tuning is not null)
        {
            var sizes = tuning.Curve.Sizes;
            var seconds = tuning.Curve.Seconds;
            if (!_publishedCurves.TryGetValue((model.Model, model.Version), out var labels) || labels.Length != sizes.Length)
            {
                labels = new string[sizes.Length];
                for (var i = 0; i < sizes.Length; i++)
                {
                    labels[i] = sizes[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                _publishedCurves[(model.Model, model.Version)] = labels;
            }

            for (var i = 0; i < sizes.Length; i++)
            {
                _batchingRunSeconds!.WithLabels(model.Model, model.Version, labels[i]).Set(seconds[i]);
            }
        }

        var dispatches = model.Dispatches;
        _batchingDispatches!.WithLabels(model.Model, model.Version, "full").IncTo(dispatches.Full);
        _batchingDispatches.WithLabels(model.Model, model.Version, "window").IncTo(dispatches.AtWindow);
        _batchingDispatches.WithLabels(model.Model, model.Version, "early").IncTo(dispatches.Early);
    }

    private IEnumerable<Measurement<int>> ObserveBestBatchSize()
    {
        foreach (var (model, _) in _live)
        {
            if (model.Policy is { Batching: true } policy)
            {
                yield return new Measurement<int>(policy.Tuning?.BestBatchSize ?? 0, model.Tags);
            }
        }
    }

    private IEnumerable<Measurement<double>> ObserveRunCurve()
    {
        foreach (var (model, _) in _live)
        {
            if (model.Policy?.Tuning is not { } tuning)
            {
                continue;
            }

            for (var i = 0; i < tuning.Curve.Sizes.Length; i++)
            {
                yield return new Measurement<double>(
                    tuning.Curve.Seconds[i], model.Tags[0], model.Tags[1], new KeyValuePair<string, object?>("batch_size", tuning.Curve.Sizes[i]));
            }
        }
    }

    private IEnumerable<Measurement<int>> ObserveQueueDepth()
    {
        foreach (var (model, _) in _live)
        {
            yield return new Measurement<int>(model.QueueDepth, model.Tags);
        }
    }

    private IEnumerable<Measurement<int>> ObserveInFlight()
    {
        foreach (var (model, _) in _live)
        {
            yield return new Measurement<int>(model.InFlight, model.Tags);
        }
    }

    private IEnumerable<Measurement<double>> ObserveGpuUtilisation()
    {
        for (var i = 0; i < _nvml!.DeviceCount; i++)
        {
            if (_nvml.TryRead(i, out var sample))
            {
                yield return new Measurement<double>(sample.Utilisation, new KeyValuePair<string, object?>("gpu.index", i), new KeyValuePair<string, object?>("gpu.name", sample.Name));
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveGpuMemory()
    {
        for (var i = 0; i < _nvml!.DeviceCount; i++)
        {
            if (_nvml.TryRead(i, out var sample))
            {
                yield return new Measurement<long>((long)sample.MemoryUsed, new KeyValuePair<string, object?>("gpu.index", i), new KeyValuePair<string, object?>("gpu.name", sample.Name));
            }
        }
    }

    private readonly record struct HttpKey(Endpoint? Endpoint, int Method, int Status);
}
