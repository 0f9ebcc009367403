namespace Gateway.Abstractions;

/// <summary>
/// An inference runtime compiled into the gateway (Native AOT loads no assemblies at run time).
/// A backend turns a model file into an <see cref="IModelRunner"/>; it knows nothing of HTTP,
/// JSON, authentication or batching.
/// </summary>
public interface IBackend
{
    /// <summary>The name used by <c>config.json</c>'s <c>backend</c>, such as <c>onnx</c>.</summary>
    string Name { get; }

    /// <summary>The protocol's platform name, such as <c>onnxruntime_onnx</c>.</summary>
    string Platform { get; }

    /// <summary>The file looked for in a version directory, such as <c>model.onnx</c>.</summary>
    string DefaultModelFileName { get; }

    /// <summary>
    /// Loads one model version. Called off the request path on a background thread; may take
    /// seconds. Expected failures (bad file, missing library) come back as an error result.
    /// </summary>
    LoadResult Load(ModelLoadRequest request);
}

/// <summary>What a backend needs to load one model version.</summary>
public sealed class ModelLoadRequest
{
    /// <summary>Model name.</summary>
    public required string ModelName { get; init; }

    /// <summary>Version number.</summary>
    public required long Version { get; init; }

    /// <summary>Absolute path of the model file.</summary>
    public required string ModelPath { get; init; }

    /// <summary>
    /// Device the configuration asks for: <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.
    /// </summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Backend-specific settings from the configuration's <c>parameters</c>.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    /// <summary>How many executions may run at once (the scheduler's instance count).</summary>
    public int InstanceCount { get; init; } = 1;

    /// <summary>
    /// The inputs and outputs the configuration declares in full (every tensor with name,
    /// datatype and dims; shapes include the batch dimension when the model batches), in the
    /// configuration's order; null when it declares none or leaves something out. Backends
    /// whose model files carry no signature (TorchScript) build theirs from it.
    /// </summary>
    public ModelSignature? DeclaredSignature { get; init; }

    /// <summary>The configuration file the model was read with, for messages; null when it has none.</summary>
    public string? ConfigPath { get; init; }
}

/// <summary>A loaded runner or the reason it could not be loaded.</summary>
public readonly struct LoadResult
{
    private LoadResult(IModelRunner? runner, BackendError? error)
    {
        Runner = runner;
        Error = error;
    }

    /// <summary>The runner, when loading succeeded.</summary>
    public IModelRunner? Runner { get; }

    /// <summary>The error, when loading failed.</summary>
    public BackendError? Error { get; }

    /// <summary>
    /// The backend runs each execution on the calling thread alone (it found the model too short
    /// to gain from more threads), so executions at once use as many cores as run them.
    /// </summary>
    public bool RunsOnCallingThread { get; init; }

    /// <summary>A successful load.</summary>
    public static LoadResult Success(IModelRunner runner) => new(runner, null);

    /// <summary>A failed load.</summary>
    public static LoadResult Failure(BackendErrorKind kind, string message) => new(null, new BackendError(kind, message));
}
