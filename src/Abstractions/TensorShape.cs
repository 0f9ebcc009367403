using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Gateway.Abstractions;

/// <summary>
/// A tensor shape held inline (no heap allocation) with up to <see cref="MaxRank"/> dimensions.
/// In a model signature a dimension of -1 means "any size"; in a request every dimension is
/// concrete and non-negative.
/// </summary>
public struct TensorShape : IEquatable<TensorShape>
{
    /// <summary>The largest rank the gateway accepts.</summary>
    public const int MaxRank = 8;

    private DimBuffer _dims;
    private int _rank;

    /// <summary>Creates a shape from dimensions; throws if the rank exceeds <see cref="MaxRank"/>.</summary>
    public TensorShape(ReadOnlySpan<long> dims)
    {
        if (dims.Length > MaxRank)
        {
            throw new ArgumentException($"rank {dims.Length} exceeds the maximum of {MaxRank}", nameof(dims));
        }

        dims.CopyTo(_dims);
        _rank = dims.Length;
    }

    /// <summary>Number of dimensions.</summary>
    public readonly int Rank => _rank;

    /// <summary>The dimensions as a span over this value.</summary>
    [UnscopedRef]
    public ReadOnlySpan<long> Dims => ((ReadOnlySpan<long>)_dims)[.._rank];

    /// <summary>Dimension <paramref name="index"/>.</summary>
    public readonly long this[int index] => (uint)index < (uint)_rank ? _dims[index] : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Appends a dimension; false if the shape is already at <see cref="MaxRank"/>.</summary>
    public bool TryAdd(long dim)
    {
        if (_rank == MaxRank)
        {
            return false;
        }

        _dims[_rank++] = dim;
        return true;
    }

    /// <summary>Replaces dimension <paramref name="index"/>.</summary>
    public void Set(int index, long dim)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_rank, nameof(index));
        _dims[index] = dim;
    }

    /// <summary>True when any dimension is -1 (variable).</summary>
    public readonly bool HasVariableDims
    {
        get
        {
            for (var i = 0; i < _rank; i++)
            {
                if (_dims[i] < 0)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// Number of elements, or false when a dimension is negative or the product overflows
    /// <paramref name="limit"/>.
    /// </summary>
    public readonly bool TryGetElementCount(long limit, out long count)
    {
        count = 1;
        for (var i = 0; i < _rank; i++)
        {
            var d = _dims[i];
            if (d < 0)
            {
                count = -1;
                return false;
            }

            if (d != 0 && count > limit / d)
            {
                count = -1;
                return false;
            }

            count *= d;
        }

        return true;
    }

    /// <summary>
    /// True when this concrete shape fits <paramref name="pattern"/>, where -1 in the pattern
    /// matches any size.
    /// </summary>
    public readonly bool Matches(in TensorShape pattern)
    {
        if (pattern._rank != _rank)
        {
            return false;
        }

        for (var i = 0; i < _rank; i++)
        {
            var p = pattern._dims[i];
            if (p >= 0 && p != _dims[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The dimensions as a new array (for APIs that need one).</summary>
    public readonly long[] ToArray()
    {
        var result = new long[_rank];
        for (var i = 0; i < _rank; i++)
        {
            result[i] = _dims[i];
        }

        return result;
    }

    /// <inheritdoc />
    public readonly bool Equals(TensorShape other)
    {
        if (other._rank != _rank)
        {
            return false;
        }

        for (var i = 0; i < _rank; i++)
        {
            if (_dims[i] != other._dims[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <inheritdoc />
    public override readonly bool Equals(object? obj) => obj is TensorShape other && Equals(other);

    /// <inheritdoc />
    public override readonly int GetHashCode()
    {
        var hash = new HashCode();
        for (var i = 0; i < _rank; i++)
        {
            hash.Add(_dims[i]);
        }

        return hash.ToHashCode();
    }

    /// <summary>Formats as <c>[1,16]</c>.</summary>
    public override readonly string ToString()
    {
        var parts = new string[_rank];
        for (var i = 0; i < _rank; i++)
        {
            parts[i] = _dims[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return "[" + string.Join(",", parts) + "]";
    }

    /// <summary>Equality.</summary>
    public static bool operator ==(TensorShape left, TensorShape right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(TensorShape left, TensorShape right) => !left.Equals(right);

    [InlineArray(MaxRank)]
    private struct DimBuffer
    {
        private long _element0;
    }
}
