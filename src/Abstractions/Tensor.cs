namespace Gateway.Abstractions;

/// <summary>
/// A tensor handed to a backend: element type, concrete shape and row-major little-endian bytes.
/// The memory is owned by the caller (the request) and only borrowed for the duration of
/// <see cref="IModelRunner.Run"/>; it comes from pooled arrays, so backends may pin it.
/// </summary>
public readonly struct Tensor
{
    /// <summary>Creates a tensor view.</summary>
    public Tensor(DataType dataType, TensorShape shape, ReadOnlyMemory<byte> data)
    {
        DataType = dataType;
        Shape = shape;
        Data = data;
    }

    /// <summary>Element type.</summary>
    public DataType DataType { get; }

    /// <summary>Concrete shape.</summary>
    public TensorShape Shape { get; }

    /// <summary>
    /// Raw bytes; for <see cref="DataType.Bytes"/> each element is a 4-byte little-endian length
    /// followed by the element's bytes.
    /// </summary>
    public ReadOnlyMemory<byte> Data { get; }
}
