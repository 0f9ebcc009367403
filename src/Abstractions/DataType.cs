using System.Text;

namespace Gateway.Abstractions;

/// <summary>
/// Tensor element types of the Open Inference Protocol (KServe V2). The names on the wire are
/// the upper-case forms returned by <see cref="DataTypes.Name"/>.
/// </summary>
public enum DataType : byte
{
    /// <summary>Not a valid datatype; the default value.</summary>
    Invalid = 0,
    Bool,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Int8,
    Int16,
    Int32,
    Int64,
    FP16,
    BF16,
    FP32,
    FP64,
    /// <summary>
    /// Variable-length byte strings. In memory and in binary form each element is a 4-byte
    /// little-endian length followed by that many bytes (Triton's serialisation).
    /// </summary>
    Bytes,
}

/// <summary>Names, sizes and parsing for <see cref="DataType"/>.</summary>
public static class DataTypes
{
    private static readonly string[] s_names =
    [
        "INVALID", "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
        "FP16", "BF16", "FP32", "FP64", "BYTES",
    ];

    /// <summary>The protocol name, such as <c>FP32</c>.</summary>
    public static string Name(this DataType type) => s_names[(int)type];

    /// <summary>Bytes per element; 0 for <see cref="DataType.Bytes"/> and <see cref="DataType.Invalid"/>.</summary>
    public static int ElementSize(this DataType type) => type switch
    {
        DataType.Bool or DataType.UInt8 or DataType.Int8 => 1,
        DataType.UInt16 or DataType.Int16 or DataType.FP16 or DataType.BF16 => 2,
        DataType.UInt32 or DataType.Int32 or DataType.FP32 => 4,
        DataType.UInt64 or DataType.Int64 or DataType.FP64 => 8,
        _ => 0,
    };

    /// <summary>Parses a protocol name given as UTF-8 (exact, upper case).</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8, out DataType type)
    {
        // PERF: names are short; a length switch then a sequence compare avoids any allocation.
        for (var i = 1; i < s_names.Length; i++)
        {
            var name = s_names[i];
            if (name.Length == utf8.Length && Ascii.Equals(utf8, name))
            {
                type = (DataType)i;
                return true;
            }
        }

        type = DataType.Invalid;
        return false;
    }

    /// <summary>
    /// Parses a protocol name, also accepting Triton's configuration form <c>TYPE_FP32</c> and
    /// its <c>TYPE_STRING</c> for <see cref="DataType.Bytes"/>.
    /// </summary>
    public static bool TryParse(string? name, out DataType type)
    {
        type = DataType.Invalid;
        if (string.IsNullOrEmpty(name))
        {
            return false;
        }

        var span = name.AsSpan();
        if (span.StartsWith("TYPE_", StringComparison.Ordinal))
        {
            span = span[5..];
            if (span.SequenceEqual("STRING"))
            {
                type = DataType.Bytes;
                return true;
            }
        }

        for (var i = 1; i < s_names.Length; i++)
        {
            if (span.SequenceEqual(s_names[i]))
            {
                type = (DataType)i;
                return true;
            }
        }

        return false;
    }
}
