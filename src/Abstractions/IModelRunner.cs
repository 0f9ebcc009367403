namespace Gateway.Abstractions;

/// <summary>
/// One loaded model version. <see cref="Run"/> is called concurrently from the scheduler's
/// execution threads (up to the configured instance count) and must be thread-safe.
/// </summary>
public interface IModelRunner : IDisposable
{
    /// <summary>The model's inputs and outputs as the model file states them.</summary>
    ModelSignature Signature { get; }

    /// <summary>Where it runs, such as <c>cpu</c> or <c>cuda:0</c>.</summary>
    string Device { get; }

    /// <summary>
    /// Runs one (possibly batched) request. <paramref name="inputs"/> follow the order of
    /// <see cref="ModelSignature.Inputs"/>; <paramref name="outputs"/> holds the indices of the
    /// wanted <see cref="ModelSignature.Outputs"/>. The result's outputs follow that order and
    /// stay valid until it is disposed.
    /// </summary>
    RunResult Run(ReadOnlySpan<Tensor> inputs, ReadOnlySpan<int> outputs);
}

/// <summary>Outputs or the error of one <see cref="IModelRunner.Run"/>.</summary>
public readonly struct RunResult
{
    private RunResult(RunOutputs? outputs, BackendError? error)
    {
        Outputs = outputs;
        Error = error;
    }

    /// <summary>The outputs on success; the receiver disposes them.</summary>
    public RunOutputs? Outputs { get; }

    /// <summary>The error on failure.</summary>
    public BackendError? Error { get; }

    /// <summary>A successful run.</summary>
    public static RunResult Success(RunOutputs outputs) => new(outputs, null);

    /// <summary>A failed run.</summary>
    public static RunResult Failure(BackendErrorKind kind, string message) => new(null, new BackendError(kind, message));
}

/// <summary>
/// Output tensors of one run, in the order requested. Their memory belongs to the backend
/// (native memory, for instance) until <see cref="IDisposable.Dispose"/>.
/// </summary>
public abstract class RunOutputs : IDisposable
{
    /// <summary>Number of outputs.</summary>
    public abstract int Count { get; }

    /// <summary>Element type of output <paramref name="index"/>.</summary>
    public abstract DataType GetDataType(int index);

    /// <summary>Shape of output <paramref name="index"/>.</summary>
    public abstract TensorShape GetShape(int index);

    /// <summary>
    /// Raw bytes of output <paramref name="index"/>; for <see cref="DataType.Bytes"/> in the
    /// length-prefixed serialisation.
    /// </summary>
    public abstract ReadOnlySpan<byte> GetData(int index);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the outputs' memory.</summary>
    protected abstract void Dispose(bool disposing);
}
