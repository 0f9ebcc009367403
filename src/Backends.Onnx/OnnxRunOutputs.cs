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
    private readonly IDisposableReadOnlyCollection<OrtValue> _values;
    private readonly DataType[] _types;
    private readonly TensorShape[] _shapes;
    private byte[]?[]? _strings;
    private int[]? _stringLengths;

    public OnnxRunOutputs(IDisposableReadOnlyCollection<OrtValue> values)
    {
        _values = values;
        _types = new DataType[values.Count];
        _shapes = new TensorShape[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            var info = values[i].GetTensorTypeAndShape();
            _types[i] = OnnxTypes.ToDataType(info.ElementDataType);
            _shapes[i] = new TensorShape(info.Shape);
            if (_types[i] == DataType.Bytes)
            {
                SerialiseStrings(i, values[i], info.ElementCount);
            }
        }
    }

    public override int Count => _types.Length;

    public override DataType GetDataType(int index) => _types[index];

    public override TensorShape GetShape(int index) => _shapes[index];

    public override ReadOnlySpan<byte> GetData(int index) =>
        _types[index] == DataType.Bytes
            ? _strings![index].AsSpan(0, _stringLengths![index])
            : _values[index].GetTensorMutableRawData();

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

        _values.Dispose();
    }

    private void SerialiseStrings(int index, OrtValue value, long count)
    {
        _strings ??= new byte[_types.Length][];
        _stringLengths ??= new int[_types.Length];
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
        _stringLengths[index] = size;
    }
}
