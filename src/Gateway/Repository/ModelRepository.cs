using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Globalization;
using Gateway.Abstractions;
using Gateway.Hosting;
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

/// <summary>
/// The model repository: scans <c>DIR/&lt;model&gt;/&lt;version&gt;/</c>, loads each model through
/// its backend and publishes an immutable snapshot that the request path reads without locks.
/// A model that fails to load is reported with its file and reason; the others still load.
/// </summary>
internal sealed partial class ModelRepository : IDisposable
{
    private readonly GatewayOptions _options;
    private readonly IReadOnlyList<IBackend> _backends;
    private readonly ILogger<ModelRepository> _logger;
    private readonly ConcurrentDictionary<string, ModelStatus[]> _status = new(StringComparer.Ordinal);
    private FrozenDictionary<string, ServedModel> _models = FrozenDictionary<string, ServedModel>.Empty;
    private volatile bool _initialLoadComplete;
    private int _failures;

    public ModelRepository(IOptions<GatewayOptions> options, IEnumerable<IBackend> backends, ILogger<ModelRepository> logger)
    {
        _options = options.Value;
        _backends = [.. backends];
        _logger = logger;
    }

    /// <summary>The repository directory as given.</summary>
    public string Root => _options.ModelRepository;

    /// <summary>True once the start-up load has finished (and, under strict readiness, nothing failed).</summary>
    public bool IsReady => _initialLoadComplete && (!_options.StrictReadiness || Volatile.Read(ref _failures) == 0);

    /// <summary>Why the server is not ready, for the readiness endpoint's body.</summary>
    public string NotReadyReason => !_initialLoadComplete
        ? "models are still loading"
        : $"{Volatile.Read(ref _failures)} model(s) failed to load and strict readiness is on";

    /// <summary>The models being served, keyed by name.</summary>
    public FrozenDictionary<string, ServedModel> Models => Volatile.Read(ref _models);

    /// <summary>Looks a model up by name (the request path's only repository call).</summary>
    public bool TryGetModel(string name, out ServedModel model) => Volatile.Read(ref _models).TryGetValue(name, out model!);

    /// <summary>Every model and version the repository knows, with state and reason.</summary>
    public List<ModelStatus> Index()
    {
        var rows = new List<ModelStatus>();
        foreach (var (_, statuses) in _status)
        {
            rows.AddRange(statuses);
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
        try
        {
            var root = _options.ModelRepository;
            if (!Directory.Exists(root))
            {
                Log.RepositoryMissing(_logger, Path.GetFullPath(root));
                return;
            }

            var directories = Directory.GetDirectories(root);
            Array.Sort(directories, StringComparer.Ordinal);
            foreach (var directory in directories)
            {
                _status[Path.GetFileName(directory)] = [new ModelStatus(Path.GetFileName(directory), null, ModelState.Loading, string.Empty)];
            }

            var parallelism = _options.LoadParallelism > 0 ? _options.LoadParallelism : Environment.ProcessorCount;
            var loaded = new ConcurrentBag<ServedModel>();
            await Parallel.ForEachAsync(
                directories,
                new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken },
                (directory, _) =>
                {
                    if (LoadModel(directory) is { } model)
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
            Log.RepositoryLoaded(_logger, models.Count, Volatile.Read(ref _failures), Path.GetFullPath(root));
        }
        finally
        {
            _initialLoadComplete = true;
        }
    }

    public void Dispose()
    {
        var models = Interlocked.Exchange(ref _models, FrozenDictionary<string, ServedModel>.Empty);
        foreach (var (_, model) in models)
        {
            foreach (var version in model.Versions)
            {
                version.Dispose();
            }
        }
    }

    /// <summary>Loads the served versions of one model directory; null when none could load.</summary>
    private ServedModel? LoadModel(string directory)
    {
        var name = Path.GetFileName(directory);
        var definition = ModelDefinition.Read(directory, _backends, out var error);
        if (definition is null)
        {
            Fail(name, null, error);
            return null;
        }

        var present = new List<long>();
        foreach (var versionDirectory in Directory.EnumerateDirectories(directory))
        {
            var versionName = Path.GetFileName(versionDirectory);
            if (long.TryParse(versionName, NumberStyles.None, CultureInfo.InvariantCulture, out var version) && version > 0)
            {
                present.Add(version);
            }
        }

        var selected = definition.SelectVersions(present);
        if (selected.Count == 0)
        {
            Fail(name, null, present.Count == 0
                ? $"{directory}: no numeric version directories (expected {directory}/1/{definition.ModelFileName})"
                : $"{definition.Source}: the version policy selects none of the versions present ({string.Join(", ", present)})");
            return null;
        }

        var versions = new List<ModelVersion>(selected.Count);
        var statuses = new List<ModelStatus>(selected.Count);
        foreach (var version in selected)
        {
            var loaded = LoadVersion(definition, directory, version, out error);
            var versionText = version.ToString(CultureInfo.InvariantCulture);
            if (loaded is null)
            {
                Interlocked.Increment(ref _failures);
                Log.ModelFailed(_logger, name, versionText, error);
                statuses.Add(new ModelStatus(name, versionText, ModelState.Unavailable, error));
                continue;
            }

            Log.ModelLoaded(_logger, name, versionText, definition.Backend.Name, loaded.Runner.Device);
            versions.Add(loaded);
            statuses.Add(new ModelStatus(name, versionText, ModelState.Ready, string.Empty));
        }

        _status[name] = [.. statuses];
        return versions.Count == 0 ? null : new ServedModel(definition, versions);
    }

    private static ModelVersion? LoadVersion(ModelDefinition definition, string directory, long version, out string error)
    {
        var path = Path.GetFullPath(Path.Combine(directory, version.ToString(CultureInfo.InvariantCulture), definition.ModelFileName));
        if (!File.Exists(path))
        {
            error = $"{path}: the model file does not exist";
            return null;
        }

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
            error = $"{path}: {loadError.Message}";
            return null;
        }

        var runner = result.Runner!;
        if (!definition.TryMergeSignature(runner.Signature, out var signature, out error))
        {
            runner.Dispose();
            return null;
        }

        error = string.Empty;
        return new ModelVersion(definition, version, runner, signature);
    }

    private void Fail(string name, string? version, string error)
    {
        Interlocked.Increment(ref _failures);
        Log.ModelFailed(_logger, name, version ?? "-", error);
        _status[name] = [new ModelStatus(name, version, ModelState.Unavailable, error)];
    }

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
    }
}
