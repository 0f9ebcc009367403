using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using Gateway.Abstractions;
using Gateway.Hosting;
using Gateway.Scheduling;
using Gateway.Telemetry;
using Microsoft.Extensions.Options;

namespace Gateway.Repository;

/// <summary>State of one model (or one of its versions) as the repository index reports it.</summary>
internal enum ModelState
{
    Loading,
    Ready,
    Unavailable,
}

/// <summary>One row of the repository index.</summary>
internal sealed record ModelStatus(string Name, string? Version, ModelState State, string Reason);

/// <summary>The result of a load or unload through the repository API.</summary>
internal readonly record struct RepositoryResult(int StatusCode, string? Error);

/// <summary>
/// The model repository: scans <c>DIR/&lt;model&gt;/&lt;version&gt;/</c>, loads and warms each
/// model through its backend, and publishes an immutable snapshot that the request path reads
/// without locks. Loads, reloads and unloads are atomic: a new model is loaded and warmed while
/// the old one keeps serving, then swapped in; the old versions finish what they hold before
/// they are freed. A model that fails to load is reported with its file and reason; the others
/// still load, and on a reload the old model stays.
/// </summary>
internal sealed partial class ModelRepository : IDisposable
{
    private readonly GatewayOptions _options;
    private readonly IReadOnlyList<IBackend> _backends;
    private readonly TimeProvider _time;
    private readonly ISchedulerFactory _schedulers;
    private readonly ILogger<ModelRepository> _logger;
    private readonly GatewayMetrics? _metrics;
    private readonly SemaphoreSlim _mutation = new(1, 1);
    private readonly ConcurrentDictionary<string, ModelStatus[]> _status = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, bool> _retiring = new();
    private FrozenDictionary<string, ServedModel> _models = FrozenDictionary<string, ServedModel>.Empty;
    private volatile bool _initialLoadComplete;

    public ModelRepository(IOptions<GatewayOptions> options, IEnumerable<IBackend> backends, TimeProvider time, ISchedulerFactory schedulers, ILogger<ModelRepository> logger, GatewayMetrics? metrics = null)
    {
        _schedulers = schedulers;
        _metrics = metrics;
        _options = options.Value;
        _backends = [.. backends];
        _time = time;
        _logger = logger;
    }

    /// <summary>The repository directory as given.</summary>
    public string Root => _options.ModelRepository;

    /// <summary>True once the start-up load has finished (and, under strict readiness, nothing failed).</summary>
    public bool IsReady => _initialLoadComplete && (!_options.StrictReadiness || FailedCount == 0);

    /// <summary>Why the server is not ready, for the readiness endpoint's body.</summary>
    public string NotReadyReason => !_initialLoadComplete
        ? "models are still loading"
        : $"{FailedCount} model(s) failed to load and strict readiness is on";

    /// <summary>The models being served, keyed by name.</summary>
    public FrozenDictionary<string, ServedModel> Models => Volatile.Read(ref _models);

    private int FailedCount
    {
        get
        {
            var failed = 0;
            foreach (var (_, rows) in _status)
            {
                foreach (var row in rows)
                {
                    if (row.State == ModelState.Unavailable && row.Reason != UnloadedReason)
                    {
                        failed++;
                        break;
                    }
                }
            }

            return failed;
        }
    }

    private const string UnloadedReason = "unloaded";

    /// <summary>Looks a model up by name (the request path's only repository call).</summary>
    public bool TryGetModel(string name, out ServedModel model) => Volatile.Read(ref _models).TryGetValue(name, out model!);

    /// <summary>Why a known model is not being served, or null when the name is unknown.</summary>
    public string? UnavailableReason(string name)
    {
        if (!_status.TryGetValue(name, out var rows))
        {
            return null;
        }

        foreach (var row in rows)
        {
            if (row.State != ModelState.Ready)
            {
                return row.State == ModelState.Loading ? "it is loading" : row.Reason;
            }
        }

        return "it is not loaded";
    }

    /// <summary>Every model in the repository directory or known to the server, with state and reason.</summary>
    public List<ModelStatus> Index()
    {
        var rows = new List<ModelStatus>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, statuses) in _status)
        {
            seen.Add(name);
            rows.AddRange(statuses);
        }

        if (Directory.Exists(Root))
        {
            foreach (var directory in Directory.EnumerateDirectories(Root))
            {
                var name = Path.GetFileName(directory);
                if (seen.Add(name))
                {
                    rows.Add(new ModelStatus(name, null, ModelState.Unavailable, "not loaded"));
                }
            }
        }

        rows.Sort(static (a, b) =>
        {
            var byName = string.CompareOrdinal(a.Name, b.Name);
            return byName != 0 ? byName : string.CompareOrdinal(a.Version, b.Version);
        });
        return rows;
    }

    /// <summary>Loads every model directory; called once at start-up.</summary>
    public async Task LoadAllAsync(CancellationToken cancellationToken)
    {
        await _mutation.WaitAsync(cancellationToken);
        try
        {
            var root = Root;
            if (!Directory.Exists(root))
            {
                Log.RepositoryMissing(_logger, Path.GetFullPath(root));
                return;
            }

            var directories = Directory.GetDirectories(root);
            Array.Sort(directories, StringComparer.Ordinal);
            foreach (var directory in directories)
            {
                var name = Path.GetFileName(directory);
                _status[name] = [new ModelStatus(name, null, ModelState.Loading, string.Empty)];
            }

            var parallelism = _options.LoadParallelism > 0 ? _options.LoadParallelism : Environment.ProcessorCount;
            var loaded = new ConcurrentBag<ServedModel>();
            await Parallel.ForEachAsync(
                directories,
                new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken },
                (directory, _token) =>
                {
                    if (LoadModel(directory, replacing: null, out _) is { } model)
                    {
                        loaded.Add(model);
                    }

                    return ValueTask.CompletedTask;
                });

            var models = new Dictionary<string, ServedModel>(StringComparer.Ordinal);
            foreach (var model in loaded)
            {
                models[model.Name] = model;
            }

            Volatile.Write(ref _models, models.ToFrozenDictionary(StringComparer.Ordinal));
            Log.RepositoryLoaded(_logger, models.Count, FailedCount, Path.GetFullPath(root));
        }
        finally
        {
            _initialLoadComplete = true;
            _mutation.Release();
        }
    }

    /// <summary>
    /// Loads or reloads one model from disk. The current versions keep serving until the new ones
    /// are warmed up and swapped in; if loading fails they stay and the error is returned.
    /// </summary>
    public async Task<RepositoryResult> LoadModelAsync(string name, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(Root, name);
        if (!IsPlainName(name) || !Directory.Exists(directory))
        {
            return new RepositoryResult(StatusCodes.Status404NotFound, $"no model directory '{name}' in the repository {Path.GetFullPath(Root)}");
        }

        await _mutation.WaitAsync(cancellationToken);
        try
        {
            TryGetModel(name, out var current);
            var model = await Task.Run(() => LoadModel(directory, current, out var error) ?? (object)error, cancellationToken);
            if (model is string failure)
            {
                return new RepositoryResult(StatusCodes.Status400BadRequest, failure);
            }

            Publish(name, (ServedModel)model);
            if (current is not null)
            {
                // The old versions drain in the background: requests holding them finish first.
                _ = Retire(current);
            }

            return new RepositoryResult(StatusCodes.Status200OK, null);
        }
        finally
        {
            _mutation.Release();
        }
    }

    /// <summary>Stops serving a model; requests already holding it finish first.</summary>
    public async Task<RepositoryResult> UnloadModelAsync(string name, CancellationToken cancellationToken)
    {
        await _mutation.WaitAsync(cancellationToken);
        Task? retired = null;
        try
        {
            if (!TryGetModel(name, out var current))
            {
                return _status.ContainsKey(name)
                    ? new RepositoryResult(StatusCodes.Status200OK, null)
                    : new RepositoryResult(StatusCodes.Status404NotFound, $"unknown model '{name}'");
            }

            Publish(name, null);
            _status[name] = [new ModelStatus(name, null, ModelState.Unavailable, UnloadedReason)];
            retired = Retire(current);
            Log.ModelUnloaded(_logger, name);
        }
        finally
        {
            _mutation.Release();
        }

        await retired;
        return new RepositoryResult(StatusCodes.Status200OK, null);
    }

    /// <summary>
    /// Compares the repository directory with what is served: new or changed models are loaded,
    /// removed ones unloaded. Failed loads are not retried until their files change again.
    /// </summary>
    public async Task PollOnceAsync(Dictionary<string, string> attempted, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Root))
        {
            return;
        }

        var present = new HashSet<string>(StringComparer.Ordinal);
        foreach (var directory in Directory.GetDirectories(Root))
        {
            var name = Path.GetFileName(directory);
            present.Add(name);
            var fingerprint = Fingerprint(directory);
            var served = TryGetModel(name, out var model) ? model.Fingerprint : null;
            if (fingerprint == served || (attempted.TryGetValue(name, out var tried) && tried == fingerprint))
            {
                continue;
            }

            attempted[name] = fingerprint;
            var result = await LoadModelAsync(name, cancellationToken);
            Log.PollReloaded(_logger, name, result.Error ?? "loaded");
        }

        foreach (var (name, _) in Models)
        {
            if (!present.Contains(name))
            {
                await UnloadModelAsync(name, cancellationToken);
            }
        }
    }

    /// <summary>Waits for versions being retired (shutdown).</summary>
    public Task DrainAsync() => Task.WhenAll(_retiring.Keys);

    public void Dispose()
    {
        var models = Interlocked.Exchange(ref _models, FrozenDictionary<string, ServedModel>.Empty);
        foreach (var (_, model) in models)
        {
            foreach (var version in model.Versions)
            {
                version.DisposeNow();
            }
        }

        _mutation.Dispose();
    }

    private void Publish(string name, ServedModel? model)
    {
        var next = new Dictionary<string, ServedModel>(Models, StringComparer.Ordinal);
        if (model is null)
        {
            next.Remove(name);
        }
        else
        {
            next[name] = model;
        }

        Volatile.Write(ref _models, next.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private Task Retire(ServedModel model)
    {
        var tasks = new Task[model.Versions.Count];
        for (var i = 0; i < tasks.Length; i++)
        {
            tasks[i] = model.Versions[i].RetireAsync();
        }

        var all = Task.WhenAll(tasks);
        _retiring[all] = true;
        _ = all.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, bool>)state!).TryRemove(t, out _), _retiring, TaskScheduler.Default);
        return all;
    }

    /// <summary>
    /// Loads and warms the served versions of one model directory. Returns null (with the error)
    /// when nothing could be served; on a reload (<paramref name="replacing"/>) the statuses of the
    /// current versions are kept so the index still shows what serves.
    /// </summary>
    private ServedModel? LoadModel(string directory, ServedModel? replacing, out string error)
    {
        var name = Path.GetFileName(directory);
        var fingerprint = Fingerprint(directory);
        var definition = ModelConfigReader.Read(directory, _backends, TimeSpan.FromMicroseconds(_options.InlineExecutionMicroseconds), out error);
        if (definition is null)
        {
            return Fail(name, error, replacing);
        }

        foreach (var warning in definition.Warnings)
        {
            Log.ConfigFieldIgnored(_logger, name, warning);
        }

        var present = new List<long>();
        foreach (var versionDirectory in Directory.EnumerateDirectories(directory))
        {
            if (long.TryParse(Path.GetFileName(versionDirectory), NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0)
            {
                present.Add(version);
            }
        }

        var selected = definition.SelectVersions(present);
        if (selected.Count == 0)
        {
            error = present.Count == 0
                ? $"{directory}: no numeric version directories (expected {directory}/1/{definition.ModelFileName})"
                : $"{definition.Source}: the version policy selects none of the versions present ({string.Join(", ", present)})";
            return Fail(name, error, replacing);
        }

        var versions = new List<ModelVersion>(selected.Count);
        var statuses = new List<ModelStatus>(selected.Count);
        var errors = new StringBuilder();
        foreach (var version in selected)
        {
            var versionText = version.ToString(CultureInfo.InvariantCulture);
            var loaded = LoadVersion(definition, directory, version, out var versionError);
            if (loaded is null)
            {
                Log.ModelFailed(_logger, name, versionText, versionError);
                statuses.Add(new ModelStatus(name, versionText, ModelState.Unavailable, versionError));
                errors.Append(errors.Length > 0 ? "; " : string.Empty).Append(versionError);
                continue;
            }

            Log.ModelLoaded(_logger, name, versionText, definition.Backend.Name, loaded.Runner.Device);
            versions.Add(loaded);
            statuses.Add(new ModelStatus(name, versionText, ModelState.Ready, string.Empty));
        }

        error = errors.ToString();
        if (versions.Count == 0 || (replacing is not null && error.Length > 0))
        {
            // On a reload, a partial failure keeps the old model whole rather than serving half.
            foreach (var version in versions)
            {
                version.DisposeNow();
            }

            if (replacing is null)
            {
                _status[name] = [.. statuses];
            }

            return null;
        }

        _status[name] = [.. statuses];
        return new ServedModel(definition, versions, fingerprint);
    }

    private ServedModel? Fail(string name, string error, ServedModel? replacing)
    {
        Log.ModelFailed(_logger, name, "-", error);
        if (replacing is null)
        {
            _status[name] = [new ModelStatus(name, null, ModelState.Unavailable, error)];
        }

        return null;
    }

    private ModelVersion? LoadVersion(ModelDefinition definition, string directory, long version, out string error)
    {
        var path = Path.GetFullPath(Path.Combine(directory, version.ToString(CultureInfo.InvariantCulture), definition.ModelFileName));
        if (!File.Exists(path))
        {
            error = $"{path}: the model file does not exist";
            return null;
        }

        var loadStarted = _time.GetTimestamp();
        var loaded = LoadVersionCore(definition, path, version, out error);
        _metrics?.ModelLoaded(definition.Name, version.ToString(CultureInfo.InvariantCulture), _time.GetElapsedTime(loadStarted).TotalSeconds, loaded is not null);
        return loaded;
    }

    private ModelVersion? LoadVersionCore(ModelDefinition definition, string path, long version, out string error)
    {
        var result = definition.Backend.Load(new ModelLoadRequest
        {
            ModelName = definition.Name,
            Version = version,
            ModelPath = path,
            Device = definition.Device,
            Parameters = definition.Parameters,
            InstanceCount = definition.InstanceCount,
            DeclaredSignature = definition.DeclaredSignature,
            ConfigPath = definition.ConfigPath is null ? null : Path.GetFullPath(definition.ConfigPath),
        });

        if (result.Error is { } loadError)
        {
            // Backend settings come from the config, so name it too: either file may be at fault.
            error = definition.ConfigPath is null
                ? $"{path}: {loadError.Message}"
                : $"{path} (configured by {definition.ConfigPath}): {loadError.Message}";
            return null;
        }

        var runner = result.Runner!;
        if (!SignatureMerge.TryMerge(definition, runner.Signature, out var signature, out error))
        {
            runner.Dispose();
            return null;
        }

        var warmup = ModelWarmup.Run(runner, signature, definition);
        if (warmup is not null)
        {
            runner.Dispose();
            error = $"{path}: {warmup}";
            return null;
        }

        var policy = BatchTuner.Tune(runner, signature, definition, _options.BatchTuning, TimeSpan.FromMilliseconds(_options.BatchTuningBudgetMilliseconds), _time, out var tuned);
        if (tuned.Length > 0)
        {
            Log.BatchingTuned(_logger, definition.Name, version.ToString(CultureInfo.InvariantCulture), tuned);
        }

        if (result.RunsOnCallingThread && !definition.InstanceCountGiven)
        {
            // PERF: a model run on one thread holds one core per execution; with one instance a
            // second request waits for the first although the other cores are idle (JSON identity
            // at 16 connections, two cores: +11% requests per second, docs/PERFORMANCE.md).
            policy = policy with { InstanceCount = InstancesPerCallingThreadModel };
        }

        error = string.Empty;
        var telemetry = _metrics?.ForModel(definition.Name, version.ToString(CultureInfo.InvariantCulture), definition.Backend.Name, runner.Device);
        return new ModelVersion(definition, version, runner, signature, _schedulers, telemetry, policy);
    }

    /// <summary>
    /// Executions at once for a model its backend runs on the calling thread, when the
    /// configuration names no instance count: one per core, at most eight (each instance keeps an
    /// execution thread, idle while requests run inline).
    /// </summary>
    internal static int InstancesPerCallingThreadModel { get; } = Math.Clamp(Environment.ProcessorCount, 1, 8);

    /// <summary>Paths, sizes and write times of a model's config and version files.</summary>
    private static string Fingerprint(string directory)
    {
        var builder = new StringBuilder();
        foreach (var fileName in (ReadOnlySpan<string>)[ModelConfigReader.JsonFileName, ModelConfigReader.ProtoTextFileName])
        {
            var config = new FileInfo(Path.Combine(directory, fileName));
            if (config.Exists)
            {
                builder.Append(fileName).Append(':').Append(config.Length).Append(':').Append(config.LastWriteTimeUtc.Ticks).Append('|');
            }
        }

        var versionDirectories = Directory.GetDirectories(directory);
        Array.Sort(versionDirectories, StringComparer.Ordinal);
        foreach (var versionDirectory in versionDirectories)
        {
            var files = Directory.GetFiles(versionDirectory);
            Array.Sort(files, StringComparer.Ordinal);
            foreach (var file in files)
            {
                var info = new FileInfo(file);
                builder.Append(Path.GetRelativePath(directory, file)).Append(':').Append(info.Length).Append(':').Append(info.LastWriteTimeUtc.Ticks).Append('|');
            }
        }

        return builder.ToString();
    }

    private static bool IsPlainName(string name) =>
        name.Length > 0 && name.IndexOfAny(['/', '\\']) < 0 && name != "." && name != "..";

    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Warning, "Model repository {Path} does not exist; serving no models")]
        public static partial void RepositoryMissing(ILogger logger, string path);

        [LoggerMessage(101, LogLevel.Information, "Model repository {Path}: {Loaded} model(s) loaded, {Failed} failure(s)")]
        public static partial void RepositoryLoaded(ILogger logger, int loaded, int failed, string path);

        [LoggerMessage(102, LogLevel.Information, "Loaded model {Model} version {Version} on backend {Backend} ({Device})")]
        public static partial void ModelLoaded(ILogger logger, string model, string version, string backend, string device);

        [LoggerMessage(103, LogLevel.Error, "Model {Model} version {Version} failed to load: {Reason}")]
        public static partial void ModelFailed(ILogger logger, string model, string version, string reason);

        [LoggerMessage(104, LogLevel.Information, "Unloaded model {Model}")]
        public static partial void ModelUnloaded(ILogger logger, string model);

        [LoggerMessage(105, LogLevel.Information, "Repository poll: model {Model} changed on disk: {Result}")]
        public static partial void PollReloaded(ILogger logger, string model, string result);

        [LoggerMessage(106, LogLevel.Warning, "Model {Model}: {Warning}")]
        public static partial void ConfigFieldIgnored(ILogger logger, string model, string warning);

        [LoggerMessage(107, LogLevel.Information, "Model {Model} version {Version}: {Decision}")]
        public static partial void BatchingTuned(ILogger logger, string model, string version, string decision);
    }
}
