using System.Buffers;
using System.Buffers.Binary;
using Gateway.Abstractions;

namespace Gateway.Scheduling;

/// <summary>
/// The outputs of one batched execution, shared by the requests in it. Each request reads its
/// own rows in place through an <see cref="OutputSlice"/>; the backend's memory and the batch's
/// merged input buffers are released when the last request has written its response.
/// </summary>
internal sealed class SharedOutputs
{
    private readonly RunOutputs _inner;
    private readonly int _totalRows;
    private byte[][]? _inputBuffers;
    private int _references;

    public SharedOutputs(RunOutputs inner, int totalRows, byte[][] inputBuffers, int references)
    {
        _inner = inner;
        _totalRows = totalRows;
        _inputBuffers = inputBuffers;
        _references = references;
    }

    public RunOutputs Inner => _inner;

    /// <summary>Checks that every output has the batch's rows first; null when so, else the problem.</summary>
    public string? Validate(IReadOnlyList<TensorSpec> specs, ReadOnlySpan<int> outputIndices)
    {
        for (var i = 0; i < _inner.Count; i++)
        {
            var shape = _inner.GetShape(i);
            if (shape.Rank == 0 || shape[0] != _totalRows)
            {
                return $"output '{specs[outputIndices[i]].Name}' came back with shape {shape} for a batch of {_totalRows} rows; " +
                    "the model cannot be batched along its first dimension (set max_batch_size to 0)";
            }
        }

        return null;
    }

    /// <summary>The bytes of rows [<paramref name="rowOffset"/>, +<paramref name="rows"/>) of output <paramref name="index"/>.</summary>
    public ReadOnlySpan<byte> Rows(int index, int rowOffset, int rows)
    {
        var data = _inner.GetData(index);
        if (rows == 0 || _totalRows == 0)
        {
            return default;
        }

        if (_inner.GetDataType(index) != DataType.Bytes)
        {
            var rowBytes = data.Length / _totalRows;
            return data.Slice(rowOffset * rowBytes, rows * rowBytes);
        }

        // BYTES rows have no fixed size: walk the length-prefixed elements.
        var shape = _inner.GetShape(index);
        shape.TryGetElementCount(long.MaxValue, out var elements);
        var perRow = elements / _totalRows;
        var start = Skip(data, 0, rowOffset * perRow);
        var end = Skip(data, start, rows * perRow);
        return data[start..end];
    }

    /// <summary>Drops one request's reference; the last one releases everything.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
        {
            return;
        }

        _inner.Dispose();
        var buffers = Interlocked.Exchange(ref _inputBuffers, null);
        if (buffers is not null)
        {
            foreach (var buffer in buffers)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private static int Skip(ReadOnlySpan<byte> data, int offset, long elements)
    {
        for (long e = 0; e < elements; e++)
        {
            offset += 4 + (int)BinaryPrimitives.ReadUInt32LittleEndian(data[offset..]);
        }

        return offset;
    }
}

/// <summary>
/// One request's view of a batch's outputs: its rows, and its requested outputs mapped onto the
/// batch's (the union of what the batch's requests asked for). Pooled with its work item.
/// </summary>
internal sealed class OutputSlice : RunOutputs
{
    private SharedOutputs? _shared;
    private int[] _map = new int[4];
    private int _count;
    private int _rowOffset;
    private int _rows;

    public void Set(SharedOutputs shared, int rowOffset, int rows, ReadOnlySpan<int> requested, ReadOnlySpan<int> union)
    {
        _shared = shared;
        _rowOffset = rowOffset;
        _rows = rows;
        _count = requested.Length;
        if (_map.Length < _count)
        {
            _map = new int[_count];
        }

        for (var i = 0; i < _count; i++)
        {
            _map[i] = union.IndexOf(requested[i]);
        }
    }

    public override int Count => _count;

    public override DataType GetDataType(int index) => _shared!.Inner.GetDataType(_map[index]);

    public override TensorShape GetShape(int index)
    {
        var shape = _shared!.Inner.GetShape(_map[index]);
        shape.Set(0, _rows);
        return shape;
    }

    public override ReadOnlySpan<byte> GetData(int index) => _shared!.Rows(_map[index], _rowOffset, _rows);

    /// <summary>Forgets the batch without releasing it (used when the item is reset).</summary>
    public void Clear()
    {
        _shared = null;
        _count = 0;
    }

    protected override void Dispose(bool disposing)
    {
        var shared = _shared;
        _shared = null;
        shared?.Release();
    }
}
