using Gateway.Abstractions;
using static TorchSharp.torch;

namespace Gateway.Backends.Torch;

/// <summary>Maps protocol datatypes to libtorch scalar types and back.</summary>
internal static class TorchTypes
{
    /// <summary>The libtorch type for a protocol datatype; false for those libtorch cannot hold (unsigned wider than 8 bits, BYTES).</summary>
    public static bool TryToScalarType(DataType type, out ScalarType scalar)
    {
        switch (type)
        {
            case DataType.Bool:
                scalar = ScalarType.Bool;
                return true;
            case DataType.UInt8:
                scalar = ScalarType.Byte;
                return true;
            case DataType.Int8:
                scalar = ScalarType.Int8;
                return true;
            case DataType.Int16:
                scalar = ScalarType.Int16;
                return true;
            case DataType.Int32:
                scalar = ScalarType.Int32;
                return true;
            case DataType.Int64:
                scalar = ScalarType.Int64;
                return true;
            case DataType.FP16:
                scalar = ScalarType.Float16;
                return true;
            case DataType.BF16:
                scalar = ScalarType.BFloat16;
                return true;
            case DataType.FP32:
                scalar = ScalarType.Float32;
                return true;
            case DataType.FP64:
                scalar = ScalarType.Float64;
                return true;
            default:
                scalar = ScalarType.Byte;
                return false;
        }
    }

    /// <summary>The protocol datatype of a libtorch type; <see cref="DataType.Invalid"/> for complex and quantised types.</summary>
    public static DataType ToDataType(ScalarType type) => type switch
    {
        ScalarType.Bool => DataType.Bool,
        ScalarType.Byte => DataType.UInt8,
        ScalarType.Int8 => DataType.Int8,
        ScalarType.Int16 => DataType.Int16,
        ScalarType.Int32 => DataType.Int32,
        ScalarType.Int64 => DataType.Int64,
        ScalarType.Float16 => DataType.FP16,
        ScalarType.BFloat16 => DataType.BF16,
        ScalarType.Float32 => DataType.FP32,
        ScalarType.Float64 => DataType.FP64,
        _ => DataType.Invalid,
    };
}
