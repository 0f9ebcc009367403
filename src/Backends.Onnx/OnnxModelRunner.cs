using System.Buffers;
using System.Buffers.Binary;
using Gateway.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = Gateway.Abstractions.Tensor;

namespace Gateway.Backends.Onnx;

/// <summary>
/// One ONNX Runtime session. Inputs become <see cref="OrtValue"/>s over the request's own pinned
/// memory (no copy); outputs stay in ONNX Runtime's memory until the caller disposes them.
/// </summary>
internal sealed class OnnxModelRunner : IModelRunner
{
    private readonly InferenceSession _session;
    private readonly SessionOptions _options;
    private readonly RunOptions _runOptions;
    private readonly string[] _inputNames;
    private readonly string[] _allOutputNames;
    private readonly TensorElementType[] _inputTypes;

    // PERF: a zero-length tensor still needs a valid data pointer; this one is pinned forever.
    private static readonly byte[] s_empty = GC.AllocateArray<byte>(8, pinned: true);

    [ThreadStatic]
    private static Scratch? t_scratch;

    private readonly OnnxRunOutputs.Pool _outputPool = new();

    public OnnxModelRunner(InferenceSession session, SessionOptions options, ModelSignature signature, string device)
    {
        _session = session;
        _options = options;
        _runOptions = new RunOptions();
        Signature = signature;
        Device = device;
        _inputNames = new string[signature.Inputs.Count];
        _inputTypes = new TensorElementType[signature.Inputs.Count];
        for (var i = 0; i < _inputNames.Length; i++)
        {
            _inputNames[i] = signature.Inputs[i].Name;
            _inputTypes[i] = OnnxTypes.ToElementType(signature.Inputs[i].DataType);
        }

        _allOutputNames = new string[signature.Outputs.Count];
        for (var i = 0; i < _allOutputNames.Length; i++)
        {
            _allOutputNames[i] = signature.Outputs[i].Name;
        }
    }

    public ModelSignature Signature { get; }

    /// <summary>Intra-op threads the backend chose itself (1 for a short model), or 0 when the configuration or ONNX Runtime's default decides.</summary>
    public int IntraOpThreads { get; init; }

    public string Device { get; }

    public unsafe RunResult Run(ReadOnlySpan<Tensor> inputs, ReadOnlySpan<int> outputs)
    {
        if (inputs.Length != _inputNames.Length)
        {
            return RunResult.Failure(BackendErrorKind.InvalidInput, $"expected {_inputNames.Length} inputs, got {inputs.Length}");
        }

        // PERF: per-thread scratch (values, pins, shape arrays) instead of new arrays per run;
        // Run is called from the scheduler's threads and inline from request threads, never
        // re-entrantly on one thread. ONNX Runtime copies shapes when it creates a tensor.
        var scratch = t_scratch ??= new Scratch();
        var values = scratch.Values(inputs.Length);
        var pins = scratch.Pins(inputs.Length);
        try
        {
            for (var i = 0; i < inputs.Length; i++)
            {
                ref readonly var input = ref inputs[i];
                if (input.DataType == DataType.Bytes)
                {
                    values[i] = CreateStringTensor(input);
                    continue;
                }

                nint pointer;
                if (input.Data.IsEmpty)
                {
                    fixed (byte* p = s_empty)
                    {
                        pointer = (nint)p;
                    }
                }
                else
                {
                    pins[i] = input.Data.Pin();
                    pointer = (nint)pins[i].Pointer;
                }

                values[i] = OrtValue.CreateTensorValueWithData(
                    OrtMemoryInfo.DefaultInstance, _inputTypes[i], scratch.Shape(input.Shape), pointer, input.Data.Length);
            }

            var outputNames = SelectOutputNames(outputs);
            var results = _session.Run(_runOptions, _inputNames, values, outputNames);
            return RunResult.Success(OnnxRunOutputs.Rent(_outputPool, results, Signature.Outputs, outputs));
        }
        catch (OnnxRuntimeException ex)
        {
            return RunResult.Failure(Classify(ex.Message), ex.Message);
        }
        finally
        {
            for (var i = 0; i < values.Length; i++)
            {
                values[i]?.Dispose();
                values[i] = null!;
                pins[i].Dispose();
                pins[i] = default;
            }
        }
    }

    public void Dispose()
    {
        _runOptions.Dispose();
        _session.Dispose();
        _options.Dispose();
    }

    private string[] SelectOutputNames(ReadOnlySpan<int> outputs)
    {
        var all = outputs.Length == _allOutputNames.Length;
        for (var i = 0; all && i < outputs.Length; i++)
        {
            all = outputs[i] == i;
        }

        if (all)
        {
            return _allOutputNames;
        }

        var names = new string[outputs.Length];
        for (var i = 0; i < outputs.Length; i++)
        {
            names[i] = _allOutputNames[outputs[i]];
        }

        return names;
    }

    private static OrtValue CreateStringTensor(in Tensor input)
    {
        input.Shape.TryGetElementCount(int.MaxValue, out var count);
        var value = OrtValue.CreateTensorWithEmptyStrings(OrtAllocator.DefaultInstance, input.Shape.ToArray());
        var data = input.Data.Span;
        for (var i = 0; i < count; i++)
        {
            // The protocol layer validated the framing; lengths are in bounds.
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data);
            value.StringTensorSetElementAt(data.Slice(4, length), i);
            data = data[(4 + length)..];
        }

        return value;
    }

    /// <summary>Arrays one thread reuses across runs, by input count and by rank.</summary>
    private sealed class Scratch
    {
        private readonly OrtValue[]?[] _values = new OrtValue[9][];
        private readonly MemoryHandle[]?[] _pins = new MemoryHandle[9][];
        private readonly long[]?[] _shapes = new long[TensorShape.MaxRank + 1][];

        public OrtValue[] Values(int count) => count < _values.Length ? _values[count] ??= new OrtValue[count] : new OrtValue[count];

        public MemoryHandle[] Pins(int count) => count < _pins.Length ? _pins[count] ??= new MemoryHandle[count] : new MemoryHandle[count];

        public long[] Shape(in TensorShape shape)
        {
            var array = _shapes[shape.Rank] ??= new long[shape.Rank];
            shape.Dims.CopyTo(array);
            return array;
        }
    }

    /// <summary>
    /// ONNX Runtime prefixes its messages with the status code; argument and shape errors are the
    /// caller's (wrong values for this model), anything else is an execution failure.
    /// </summary>
    internal static BackendErrorKind Classify(string message) =>
        message.Contains("[ErrorCode:InvalidArgument]", StringComparison.Ordinal)
        || message.Contains("[ErrorCode:InvalidGraph]", StringComparison.Ordinal)
        || message.Contains("out of range", StringComparison.OrdinalIgnoreCase)
        || message.Contains("out of bounds", StringComparison.OrdinalIgnoreCase)
            ? BackendErrorKind.InvalidInput
            : BackendErrorKind.ExecutionFailed;
}
