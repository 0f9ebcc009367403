using System.Globalization;
using System.Runtime.InteropServices;
using Gateway.Abstractions;
using TorchSharp;
using static TorchSharp.torch;

namespace Gateway.Backends.Torch;

/// <summary>
/// Serves TorchScript files (<c>model.pt</c>) through TorchSharp on the CPU or on CUDA. A
/// TorchScript file names no inputs or outputs, so the model's <c>config.json</c> declares them
/// (name, data_type, dims) and a warm-up run on zeros checks the declaration against the model
/// before it is served. libtorch is loaded explicitly on the first load (see <see cref="TorchRuntime"/>).
/// </summary>
public sealed class TorchBackend : IBackend
{
    private readonly TorchBackendOptions _options;

    /// <summary>Creates the backend with the host's settings.</summary>
    public TorchBackend(TorchBackendOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    /// <inheritdoc />
    public string Name => "torch";

    /// <inheritdoc />
    public string Platform => "pytorch_libtorch";

    /// <inheritdoc />
    public string DefaultModelFileName => "model.pt";

    /// <inheritdoc />
    public LoadResult Load(ModelLoadRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var config = request.ConfigPath ?? "config.json (absent)";
        if (!TryParseDevice(request.Device, out var deviceType, out var deviceIndex))
        {
            return LoadResult.Failure(BackendErrorKind.LoadFailed, $"device '{request.Device}' is not cpu, cuda or cuda:N");
        }

        foreach (var (key, _) in request.Parameters)
        {
            return LoadResult.Failure(
                BackendErrorKind.LoadFailed,
                $"unknown parameter '{key}' for the torch backend: it takes none per model " +
                $"(libtorch's settings are process-wide: {TorchBackendOptions.SectionName}:LibTorchPath, {TorchBackendOptions.SectionName}:IntraOpThreads)");
        }

        if (request.DeclaredSignature is not { } signature)
        {
            return LoadResult.Failure(
                BackendErrorKind.LoadFailed,
                $"{config}: a TorchScript file carries no signature, so config.json must list every input and output " +
                "with name, data_type and dims (dims without the batch dimension when max_batch_size > 0)");
        }

        var inputTypes = new ScalarType[signature.Inputs.Count];
        for (var i = 0; i < inputTypes.Length; i++)
        {
            if (!TorchTypes.TryToScalarType(signature.Inputs[i].DataType, out inputTypes[i]))
            {
                return LoadResult.Failure(BackendErrorKind.LoadFailed, $"{config}: input '{signature.Inputs[i].Name}' is {signature.Inputs[i].DataType.Name()}, which libtorch cannot hold");
            }
        }

        foreach (var output in signature.Outputs)
        {
            if (!TorchTypes.TryToScalarType(output.DataType, out _))
            {
                return LoadResult.Failure(BackendErrorKind.LoadFailed, $"{config}: output '{output.Name}' is {output.DataType.Name()}, which libtorch cannot hold");
            }
        }

        if (!File.Exists(request.ModelPath))
        {
            return LoadResult.Failure(BackendErrorKind.LoadFailed, $"model file '{request.ModelPath}' does not exist");
        }

        if (!TorchRuntime.TryLoad(_options, out var error))
        {
            return LoadResult.Failure(BackendErrorKind.Unavailable, error);
        }

        if (deviceType == DeviceType.CUDA && !TryCheckCuda(request.Device, deviceIndex, out error))
        {
            return LoadResult.Failure(BackendErrorKind.Unavailable, error);
        }

        jit.ScriptModule module;
        try
        {
            module = jit.load(request.ModelPath, deviceType, deviceType == DeviceType.CUDA ? deviceIndex : -1);
            module.eval();
        }
        catch (ExternalException ex)
        {
            return LoadResult.Failure(BackendErrorKind.LoadFailed, $"libtorch could not load '{request.ModelPath}' as TorchScript: {TorchModelRunner.Describe(ex.Message)}");
        }

        var runner = new TorchModelRunner(module, signature, inputTypes, deviceType, deviceIndex);
        if (!runner.TryWarmUp(out error))
        {
            runner.Dispose();
            return LoadResult.Failure(
                BackendErrorKind.LoadFailed,
                $"{config}: the declared inputs and outputs do not fit the model: a warm-up run on zeros of the declared inputs failed: {error}");
        }

        return LoadResult.Success(runner);
    }

    private static bool TryCheckCuda(string device, int index, out string error)
    {
        var directory = TorchRuntime.LoadedFrom;
        if (!TorchRuntime.HasCudaLibraries)
        {
            error = $"device {device} needs libtorch's CUDA build, but {directory} has no libtorch_cuda.so " +
                "(set Torch:LibTorchPath to one, such as a CUDA PyTorch install's torch/lib)";
            return false;
        }

        if (!torch.cuda.is_available())
        {
            error = $"device {device}: the libtorch in {directory} finds no usable CUDA device (driver or GPU missing)";
            return false;
        }

        var count = torch.cuda.device_count();
        if (index >= count)
        {
            error = $"device {device} does not exist: libtorch sees {count} CUDA device(s)";
            return false;
        }

        error = string.Empty;
        return true;
    }

    private static bool TryParseDevice(string device, out DeviceType type, out int index)
    {
        index = 0;
        type = DeviceType.CPU;
        if (string.IsNullOrEmpty(device) || device == "cpu")
        {
            return true;
        }

        type = DeviceType.CUDA;
        return device == "cuda"
            || (device.StartsWith("cuda:", StringComparison.Ordinal)
                && int.TryParse(device.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out index));
    }
}
