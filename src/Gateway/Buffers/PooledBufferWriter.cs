using System.Buffers;
using System.Diagnostics;

namespace Gateway.Buffers;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> over one growing array rented from
/// <see cref="ArrayPool{T}.Shared"/>. Reused per request through the request pool; the array is
/// kept across requests up to <see cref="RetainLimit"/> bytes so steady-state requests rent nothing.
/// </summary>
internal sealed class PooledBufferWriter : IBufferWriter<byte>, IDisposable
{
    /// <summary>Arrays above this size go back to the pool at <see cref="Reset"/>.</summary>
    public const int RetainLimit = 64 * 1024;

    private byte[] _buffer;
    private int _written;

    public PooledBufferWriter(int initialCapacity = 4096)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    public int WrittenCount => _written;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _written);

    public void Advance(int count)
    {
        Debug.Assert(count >= 0 && _written + count <= _buffer.Length);
        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    /// <summary>Forgets what was written; gives an oversized array back to the pool.</summary>
    public void Reset()
    {
        _written = 0;
        if (_buffer.Length > RetainLimit)
        {
            var old = _buffer;
            _buffer = ArrayPool<byte>.Shared.Rent(4096);
            ArrayPool<byte>.Shared.Return(old);
        }
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        _written = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1)
        {
            sizeHint = 1;
        }

        if (_buffer.Length - _written >= sizeHint)
        {
            return;
        }

        Grow(sizeHint);
    }

    private void Grow(int sizeHint)
    {
        var needed = checked(_written + sizeHint);
        var size = Math.Max(needed, _buffer.Length * 2);
        var next = ArrayPool<byte>.Shared.Rent(size);
        _buffer.AsSpan(0, _written).CopyTo(next);
        var old = _buffer;
        _buffer = next;
        if (old.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(old);
        }
    }
}
