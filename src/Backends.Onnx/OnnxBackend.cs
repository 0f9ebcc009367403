using System.Runtime.InteropServices;
using Gateway.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace Gateway.Backends.Onnx;

/// <summary>
/// Serves <c>model.onnx</c> files through ONNX Runtime: one <see cref="InferenceSession"/> per
/// model version, created once and run concurrently.
/// </summary>
public sealed class OnnxBackend : IBackend
{
    /// <inheritdoc />
    public string Name => "onnx";

    /// <inheritdoc />
    public string Platform => "onnxruntime_onnx";

    /// <inheritdoc />
    public string DefaultModelFileName => "model.onnx";

    /// <summary>The ONNX Runtime version string, or null when the native library is missing.</summary>
    public static string? RuntimeVersion
    {
        get
        {
            try
            {
                return OrtEnv.Instance().GetVersionString();
            }
            catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
            {
                return null;
            }
        }
    }

    /// <inheritdoc />
    public LoadResult Load(ModelLoadRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!OnnxSessionSettings.TryParse(request.Parameters, request.Device, out var settings, out var error))
        {
            return LoadResult.Failure(BackendErrorKind.LoadFailed, error);
        }

        if (!File.Exists(request.ModelPath))
        {
            return LoadResult.Failure(BackendErrorKind.LoadFailed, $"model file '{request.ModelPath}' does not exist");
        }

        SessionOptions? options = null;
        InferenceSession? session = null;
        try
        {
            options = settings.CreateSessionOptions();
            if (settings.ExecutionProvider == "cuda")
            {
                try
                {
                    options.AppendExecutionProvider_CUDA(settings.DeviceId);
                }
                catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
                {
                    return LoadResult.Failure(
                        BackendErrorKind.Unavailable,
                        $"the CUDA execution provider for device {settings.DeviceId} could not be loaded: {ex.Message}{CudaProviderProblem()} " +
                        "(publish with -p:OnnxGpu=true and put the CUDA 13 and cuDNN 9 libraries on LD_LIBRARY_PATH)");
                }
            }

            session = new InferenceSession(request.ModelPath, options);
            if (!TryReadSignature(session, out var signature, out error))
            {
                return LoadResult.Failure(BackendErrorKind.LoadFailed, error);
            }

            var runner = new OnnxModelRunner(session, options, signature, settings.Device);
            session = null;
            options = null;
            if (settings.IntraOpThreadsGiven || settings.ExecutionProvider != "cpu"
                || OnnxRunProbe.Fastest(runner) is not { } fastest || fastest >= OnnxRunProbe.SingleThreadBelow)
            {
                return LoadResult.Success(runner);
            }

            // PERF: a model this short runs on the calling thread alone: see OnnxRunProbe.SingleThreadBelow.
            runner.Dispose();
            settings.UseIntraOpThreads(1);
            options = settings.CreateSessionOptions();
            session = new InferenceSession(request.ModelPath, options);
            runner = new OnnxModelRunner(session, options, signature, settings.Device) { IntraOpThreads = 1 };
            session = null;
            options = null;
            return LoadResult.Success(runner) with { RunsOnCallingThread = true };
        }
        catch (OnnxRuntimeException ex)
        {
            return LoadResult.Failure(BackendErrorKind.LoadFailed, $"ONNX Runtime could not load the model: {ex.Message}");
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            return LoadResult.Failure(BackendErrorKind.Unavailable, $"the ONNX Runtime native library could not be loaded: {ex.Message}");
        }
        finally
        {
            session?.Dispose();
            options?.Dispose();
        }
    }

    /// <summary>
    /// ONNX Runtime says only that the provider library failed to load; loading it here gets the
    /// loader's reason, which names the missing CUDA or cuDNN library.
    /// </summary>
    private static string CudaProviderProblem()
    {
        const string Provider = "libonnxruntime_providers_cuda.so";
        var beside = AppContext.BaseDirectory;
        var path = Path.Combine(beside, Provider);
        if (!File.Exists(path))
        {
            path = Path.Combine(beside, "runtimes", "linux-x64", "native", Provider);
        }

        if (!File.Exists(path))
        {
            return $": {Provider} is not beside the gateway, so this build has the CPU ONNX Runtime";
        }

        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return string.Empty;
        }
        catch (DllNotFoundException load)
        {
            var reason = load.Message.Trim();
            var newline = reason.LastIndexOf('\n');
            return $": {path}: {(newline >= 0 ? reason[(newline + 1)..].Trim() : reason)}";
        }
    }

    private static bool TryReadSignature(InferenceSession session, out ModelSignature signature, out string error)
    {
        var inputs = new List<TensorSpec>(session.InputNames.Count);
        var outputs = new List<TensorSpec>(session.OutputNames.Count);
        signature = null!;
        if (!TryReadSpecs("input", session.InputNames, session.InputMetadata, inputs, out error)
            || !TryReadSpecs("output", session.OutputNames, session.OutputMetadata, outputs, out error))
        {
            return false;
        }

        signature = new ModelSignature(inputs, outputs);
        return true;
    }

    private static bool TryReadSpecs(
        string what,
        IReadOnlyList<string> names,
        IReadOnlyDictionary<string, NodeMetadata> metadata,
        List<TensorSpec> specs,
        out string error)
    {
        foreach (var name in names)
        {
            var node = metadata[name];
            if (!node.IsTensor)
            {
                error = $"{what} '{name}' is a {node.OnnxValueType}; only tensors are served";
                return false;
            }

            var type = OnnxTypes.ToDataType(node.ElementDataType);
            if (type == DataType.Invalid)
            {
                error = $"{what} '{name}' has element type {node.ElementDataType}, which the protocol cannot carry";
                return false;
            }

            var dims = node.Dimensions;
            if (dims.Length > TensorShape.MaxRank)
            {
                error = $"{what} '{name}' has rank {dims.Length}; at most {TensorShape.MaxRank} is supported";
                return false;
            }

            var shape = default(TensorShape);
            foreach (var d in dims)
            {
                shape.TryAdd(d < 0 ? -1 : d);
            }

            specs.Add(new TensorSpec(name, type, shape));
        }

        error = string.Empty;
        return true;
    }
}
