using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gateway.Abstractions;
using Tensor = TorchSharp.torch.Tensor;

namespace Gateway.Backends.Torch;

/// <summary>
/// Outputs of one TorchScript run: contiguous CPU tensors read in place from libtorch's memory.
/// Disposing frees each tensor, then unpins the request's inputs (an output may be a view of one,
/// as an identity model's is).
/// </summary>
internal sealed unsafe class TorchRunOutputs : RunOutputs
{
    private readonly Tensor[] _tensors;
    private readonly DataType[] _types;
    private readonly TensorShape[] _shapes;
    private readonly nint[] _data;
    private readonly int[] _lengths;
    private MemoryHandle[]? _pins;

    public TorchRunOutputs(Tensor[] tensors, DataType[] types, MemoryHandle[] pins)
    {
        _tensors = tensors;
        _types = types;
        _pins = pins;
        _shapes = new TensorShape[tensors.Length];
        _data = new nint[tensors.Length];
        _lengths = new int[tensors.Length];
        for (var i = 0; i < tensors.Length; i++)
        {
            var tensor = tensors[i];
            _shapes[i] = new TensorShape(tensor.shape);
            var bytes = tensor.bytes;
            _data[i] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(bytes));
            _lengths[i] = bytes.Length;
        }
    }

    public override int Count => _tensors.Length;

    public override DataType GetDataType(int index) => _types[index];

    public override TensorShape GetShape(int index) => _shapes[index];

    public override ReadOnlySpan<byte> GetData(int index) => new((void*)_data[index], _lengths[index]);

    protected override void Dispose(bool disposing)
    {
        foreach (var tensor in _tensors)
        {
            tensor.Dispose();
        }

        var pins = _pins;
        _pins = null;
        if (pins is not null)
        {
            foreach (var pin in pins)
            {
                pin.Dispose();
            }
        }
    }
}
