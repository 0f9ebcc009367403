using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Abstractions;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = Gateway.Abstractions.Tensor;
using TorchTensor = TorchSharp.torch.Tensor;

namespace Gateway.Backends.Torch;

/// <summary>
/// One TorchScript module. Inputs become tensors over the request's own pinned memory (no copy on
/// the CPU); outputs are matched by position to the declared outputs, checked against their
/// declared datatype and shape, and stay in libtorch's memory until the caller disposes them.
/// Every native tensor a run creates is owned by a <see cref="DisposeScope"/> except the outputs
/// handed back, which <see cref="TorchRunOutputs"/> frees.
/// </summary>
internal sealed unsafe class TorchModelRunner : IModelRunner
{
    // PERF: a zero-length tensor still needs a data pointer; this one is pinned for the process.
    private static readonly byte[] s_empty = GC.AllocateArray<byte>(64, pinned: true);

    private readonly jit.ScriptModule _module;
    private readonly ScalarType[] _inputTypes;
    private readonly int[] _allOutputs;
    private readonly DeviceType _deviceType;
    private readonly int _deviceIndex;

    public TorchModelRunner(jit.ScriptModule module, ModelSignature signature, ScalarType[] inputTypes, DeviceType deviceType, int deviceIndex)
    {
        _module = module;
        _inputTypes = inputTypes;
        _deviceType = deviceType;
        _deviceIndex = deviceIndex;
        Signature = signature;
        Device = deviceType == DeviceType.CUDA ? $"cuda:{deviceIndex}" : "cpu";
        _allOutputs = new int[signature.Outputs.Count];
        for (var i = 0; i < _allOutputs.Length; i++)
        {
            _allOutputs[i] = i;
        }
    }

    public ModelSignature Signature { get; }

    public string Device { get; }

    public RunResult Run(ReadOnlySpan<Tensor> inputs, ReadOnlySpan<int> outputs)
    {
        if (inputs.Length != _inputTypes.Length)
        {
            return RunResult.Failure(BackendErrorKind.InvalidInput, $"expected {_inputTypes.Length} inputs, got {inputs.Length}");
        }

        TorchRuntime.ApplyThreadSettings();
        var pins = new MemoryHandle[inputs.Length];
        var handedOver = false;
        try
        {
            using var scope = torch.NewDisposeScope();
            using var inference = torch.inference_mode();
            var arguments = new object[inputs.Length];
            for (var i = 0; i < inputs.Length; i++)
            {
                if (!TryCreateInput(inputs[i], i, ref pins[i], out var tensor, out var inputError))
                {
                    return RunResult.Failure(BackendErrorKind.InvalidInput, inputError);
                }

                arguments[i] = tensor;
            }

            var result = _module.forward(arguments);
            if (!TryCollect(result, out var produced, out var error))
            {
                return RunResult.Failure(BackendErrorKind.ExecutionFailed, error);
            }

            var selected = new TorchTensor[outputs.Length];
            var types = new DataType[outputs.Length];
            for (var i = 0; i < outputs.Length; i++)
            {
                if (!TryPrepareOutput(produced[outputs[i]], outputs[i], out selected[i], out types[i], out error))
                {
                    return RunResult.Failure(BackendErrorKind.ExecutionFailed, error);
                }
            }

            // The scope frees everything else (inputs, unwanted outputs, intermediate copies).
            foreach (var tensor in selected)
            {
                tensor.DetachFromDisposeScope();
            }

            handedOver = true;
            return RunResult.Success(new TorchRunOutputs(selected, types, pins));
        }
        catch (Exception ex) when (ex is ExternalException or InvalidOperationException)
        {
            // libtorch's errors (TorchSharp rethrows them as ExternalException).
            var message = Describe(ex.Message);
            return RunResult.Failure(Classify(message), message);
        }
        catch (NotImplementedException ex)
        {
            // TorchSharp's answer to a return value it cannot represent (a dict, a string).
            return RunResult.Failure(BackendErrorKind.ExecutionFailed, ex.Message);
        }
        finally
        {
            if (!handedOver)
            {
                foreach (var pin in pins)
                {
                    pin.Dispose();
                }
            }
        }
    }

    /// <summary>
    /// Runs the model once on zeros shaped like the declared inputs (variable dimensions as 1) and
    /// checks that what comes back matches the declared outputs.
    /// </summary>
    public bool TryWarmUp(out string error)
    {
        var inputs = new Tensor[Signature.Inputs.Count];
        for (var i = 0; i < inputs.Length; i++)
        {
            var spec = Signature.Inputs[i];
            var shape = spec.Shape;
            for (var d = 0; d < shape.Rank; d++)
            {
                if (shape[d] < 0)
                {
                    shape.Set(d, 1);
                }
            }

            shape.TryGetElementCount(int.MaxValue, out var count);
            inputs[i] = new Tensor(spec.DataType, shape, new byte[count * spec.DataType.ElementSize()]);
        }

        var result = Run(inputs, _allOutputs);
        if (result.Error is { } runError)
        {
            error = runError.Message;
            return false;
        }

        result.Outputs!.Dispose();
        error = string.Empty;
        return true;
    }

    public void Dispose() => _module.Dispose();

    private bool TryCreateInput(in Tensor input, int index, ref MemoryHandle pin, out TorchTensor tensor, out string error)
    {
        var shape = input.Shape;
        var type = _inputTypes[index];
        var data = input.Data;
        var size = input.DataType.ElementSize();
        if (!shape.TryGetElementCount(int.MaxValue, out var count) || count * size != data.Length)
        {
            tensor = null!;
            error = $"input '{Signature.Inputs[index].Name}' has {data.Length} bytes for shape {shape}, which needs {count * size}";
            return false;
        }

        error = string.Empty;
        if (data.IsEmpty)
        {
            fixed (byte* empty = s_empty)
            {
                tensor = TorchNative.FromBlob(empty, shape.Dims, type, _deviceType, _deviceIndex);
            }

            return true;
        }

        pin = data.Pin();
        if ((nint)pin.Pointer % size == 0)
        {
            tensor = TorchNative.FromBlob(pin.Pointer, shape.Dims, type, _deviceType, _deviceIndex);
            return true;
        }

        // Binary tensor data follows a JSON header of any length, so it can sit at an odd address;
        // libtorch's kernels may assume element alignment, so such an input is copied once.
        pin.Dispose();
        pin = default;
        var host = torch.empty(shape.Dims, type);
        data.Span.CopyTo(host.bytes);
        tensor = _deviceType == DeviceType.CPU ? host : host.to(_deviceType, _deviceIndex);
        return true;
    }

    /// <summary>The module's result as a list of tensors: one tensor, a tuple or a list of them.</summary>
    private bool TryCollect(object result, out TorchTensor[] tensors, out string error)
    {
        switch (result)
        {
            case TorchTensor single:
                tensors = [single];
                break;
            case TorchTensor[] array:
                tensors = array;
                break;
            case ITuple tuple:
                tensors = new TorchTensor[tuple.Length];
                for (var i = 0; i < tuple.Length; i++)
                {
                    if (tuple[i] is not TorchTensor item)
                    {
                        error = $"the model's output {i} is a {KindOf(tuple[i])}; the torch backend serves tensors and tuples or lists of tensors";
                        return false;
                    }

                    tensors[i] = item;
                }

                break;
            case object[] items:
                tensors = new TorchTensor[items.Length];
                for (var i = 0; i < items.Length; i++)
                {
                    if (items[i] is not TorchTensor item)
                    {
                        error = $"the model's output {i} is a {KindOf(items[i])}; the torch backend serves tensors and tuples or lists of tensors";
                        return false;
                    }

                    tensors[i] = item;
                }

                break;
            default:
                (result as IDisposable)?.Dispose();
                tensors = [];
                error = $"the model returned a {KindOf(result)}; the torch backend serves tensors and tuples or lists of tensors";
                return false;
        }

        if (tensors.Length != Signature.Outputs.Count)
        {
            error = $"the model returned {tensors.Length} output(s), but the configuration declares {Signature.Outputs.Count} ({Names(Signature.Outputs)})";
            return false;
        }

        error = string.Empty;
        return true;
    }

    /// <summary>Brings an output to contiguous CPU memory and checks it against its declaration.</summary>
    private bool TryPrepareOutput(TorchTensor tensor, int index, out TorchTensor prepared, out DataType type, out string error)
    {
        var spec = Signature.Outputs[index];
        type = TorchTypes.ToDataType(tensor.dtype);
        var shape = new TensorShape(tensor.shape);
        if (type != spec.DataType || !shape.Matches(spec.Shape))
        {
            prepared = null!;
            error = $"output '{spec.Name}' came back as {(type == DataType.Invalid ? tensor.dtype.ToString() : type.Name())} {shape}, " +
                $"but the configuration declares {spec.DataType.Name()} {spec.Shape}";
            return false;
        }

        prepared = tensor.device_type == DeviceType.CPU ? tensor : tensor.cpu();
        if (!prepared.is_contiguous())
        {
            prepared = prepared.contiguous();
        }

        error = string.Empty;
        return true;
    }

    /// <summary>
    /// libtorch's messages carry the TorchScript traceback and C++ frames; the line that says what
    /// went wrong is the last <c>RuntimeError:</c> line, or else the first line.
    /// </summary>
    internal static string Describe(string message)
    {
        const string Marker = "RuntimeError: ";
        var at = message.LastIndexOf(Marker, StringComparison.Ordinal);
        var text = at >= 0 ? message.AsSpan(at + Marker.Length) : message.AsSpan();
        var end = text.IndexOf('\n');
        return (end >= 0 ? text[..end] : text).Trim().ToString();
    }

    /// <summary>Shape and index errors are the caller's (values this model cannot take); anything else is an execution failure.</summary>
    internal static BackendErrorKind Classify(string message) =>
        message.Contains("index out of range", StringComparison.OrdinalIgnoreCase)
        || message.Contains("out of bounds", StringComparison.OrdinalIgnoreCase)
        || message.Contains(" must match ", StringComparison.Ordinal)
        || message.Contains("shapes cannot be multiplied", StringComparison.Ordinal)
        || message.Contains("size mismatch", StringComparison.OrdinalIgnoreCase)
        || message.Contains("Sizes of tensors must match", StringComparison.Ordinal)
        || message.Contains("is invalid for input of size", StringComparison.Ordinal)
            ? BackendErrorKind.InvalidInput
            : BackendErrorKind.ExecutionFailed;

    private static string KindOf(object? value) => value switch
    {
        null => "None",
        Scalar => "scalar",
        _ => value.GetType().Name,
    };

    private static string Names(IReadOnlyList<TensorSpec> specs)
    {
        var names = new string[specs.Count];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = specs[i].Name;
        }

        return string.Join(", ", names);
    }
}
