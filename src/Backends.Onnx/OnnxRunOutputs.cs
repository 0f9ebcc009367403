using System.Buffers;
using System.Buffers.Binary;
using Gateway.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace Gateway.Backends.Onnx;

/// <summary>
/// Outputs of one ONNX Runtime run. Numeric tensors are read in place from ONNX Runtime's memory;
/// string tensors are serialised once into a pooled buffer in the protocol's BYTES framing.
/// </summary>
internal sealed class OnnxRunOutputs : RunOutputs
{
    private Pool? _pool;
    private IDisposableReadOnlyCollection<OrtValue>? _values;
    private DataType[] _types = new DataType[4];
    private TensorShape[] _shapes = new TensorShape[4];
    private byte[]?[]? _strings;
    private int[]? _stringLengths;
    private int _count;

    /// <summary>
    /// Wraps a run's outputs in a pooled instance (PERF: its arrays are reused, so a steady
    /// stream of runs allocates no wrapper). The receiver disposes it exactly once.
    /// </summary>
    public static OnnxRunOutputs Rent(Pool pool, IDisposableReadOnlyCollection<OrtValue> values, IReadOnlyList<TensorSpec> specs, ReadOnlySpan<int> requested)
    {
        var outputs = pool.Take() ?? new OnnxRunOutputs();
        outputs._pool = pool;
        outputs.Fill(values, specs, requested);
        return outputs;
    }

    public override int Count => _count;

    public override DataType GetDataType(int index) => _types[index];

    public override TensorShape GetShape(int index) => _shapes[index];

    public override ReadOnlySpan<byte> GetData(int index) =>
        _types[index] == DataType.Bytes
            ? _strings![index].AsSpan(0, _stringLengths![index])
            : _values![index].GetTensorMutableRawData();

    protected override void Dispose(bool disposing)
    {
        if (_strings is not null)
        {
            for (var i = 0; i < _strings.Length; i++)
            {
                var buffer = _strings[i];
                _strings[i] = null;
                if (buffer is not null)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }

        var values = _values;
        _values = null;
        values?.Dispose();
        _count = 0;
        var pool = _pool;
        _pool = null;
        pool?.Give(this);
    }

    private void Fill(IDisposableReadOnlyCollection<OrtValue> values, IReadOnlyList<TensorSpec> specs, ReadOnlySpan<int> requested)
    {
        _values = values;
        _count = values.Count;
        if (_types.Length < _count)
        {
            _types = new DataType[_count];
            _shapes = new TensorShape[_count];
        }

        for (var i = 0; i < _count; i++)
        {
            if (TryShapeFromSpec(values[i], specs[requested[i]], out _shapes[i]))
            {
                _types[i] = specs[requested[i]].DataType;
                continue;
            }

            var info = values[i].GetTensorTypeAndShape();
            _types[i] = OnnxTypes.ToDataType(info.ElementDataType);
            _shapes[i] = new TensorShape(info.Shape);
            if (_types[i] == DataType.Bytes)
            {
                SerialiseStrings(i, values[i], info.ElementCount);
            }
        }
    }

    /// <summary>
    /// PERF: when the model's output has at most one variable dimension, the shape follows from
    /// the byte length of the data (a native call that allocates nothing); asking ONNX Runtime for
    /// the shape allocates a type-and-shape object and an array per output.
    /// </summary>
    private static bool TryShapeFromSpec(OrtValue value, TensorSpec spec, out TensorShape shape)
    {
        shape = spec.Shape;
        var size = spec.DataType.ElementSize();
        if (size == 0)
        {
            return false;
        }

        var variable = -1;
        long fixedProduct = 1;
        for (var d = 0; d < shape.Rank; d++)
        {
            if (shape[d] < 0)
            {
                if (variable >= 0)
                {
                    return false;
                }

                variable = d;
            }
            else
            {
                fixedProduct *= shape[d];
            }
        }

        var elements = value.GetTensorMutableRawData().Length / size;
        if (variable < 0)
        {
            return elements == fixedProduct;
        }

        if (fixedProduct == 0 || elements % fixedProduct != 0)
        {
            return false;
        }

        shape.Set(variable, elements / fixedProduct);
        return true;
    }

    private void SerialiseStrings(int index, OrtValue value, long count)
    {
        if (_strings is null || _strings.Length < _types.Length)
        {
            _strings = new byte[_types.Length][];
            _stringLengths = new int[_types.Length];
        }

        var size = 0;
        for (var e = 0; e < count; e++)
        {
            size += 4 + value.GetStringElementAsSpan(e).Length;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(size, 1));
        var offset = 0;
        for (var e = 0; e < count; e++)
        {
            var element = value.GetStringElementAsSpan(e);
            BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(offset), (uint)element.Length);
            element.CopyTo(buffer.AsSpan(offset + 4));
            offset += 4 + element.Length;
        }

        _strings[index] = buffer;
        _stringLengths![index] = size;
    }

    /// <summary>A small per-runner pool of wrappers.</summary>
    internal sealed class Pool
    {
        private const int Capacity = 64;
        private readonly System.Collections.Concurrent.ConcurrentQueue<OnnxRunOutputs> _free = new();

        public OnnxRunOutputs? Take() => _free.TryDequeue(out var outputs) ? outputs : null;

        public void Give(OnnxRunOutputs outputs)
        {
            if (_free.Count < Capacity)
            {
                _free.Enqueue(outputs);
            }
        }
    }
}
