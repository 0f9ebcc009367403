using Gateway.Abstractions;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Gateway.Backends.Onnx;

/// <summary>Maps ONNX element types to protocol datatypes and back.</summary>
internal static class OnnxTypes
{
    public static DataType ToDataType(TensorElementType type) => type switch
    {
        TensorElementType.Bool => DataType.Bool,
        TensorElementType.UInt8 => DataType.UInt8,
        TensorElementType.UInt16 => DataType.UInt16,
        TensorElementType.UInt32 => DataType.UInt32,
        TensorElementType.UInt64 => DataType.UInt64,
        TensorElementType.Int8 => DataType.Int8,
        TensorElementType.Int16 => DataType.Int16,
        TensorElementType.Int32 => DataType.Int32,
        TensorElementType.Int64 => DataType.Int64,
        TensorElementType.Float16 => DataType.FP16,
        TensorElementType.BFloat16 => DataType.BF16,
        TensorElementType.Float => DataType.FP32,
        TensorElementType.Double => DataType.FP64,
        TensorElementType.String => DataType.Bytes,
        _ => DataType.Invalid,
    };

    public static TensorElementType ToElementType(DataType type) => type switch
    {
        DataType.Bool => TensorElementType.Bool,
        DataType.UInt8 => TensorElementType.UInt8,
        DataType.UInt16 => TensorElementType.UInt16,
        DataType.UInt32 => TensorElementType.UInt32,
        DataType.UInt64 => TensorElementType.UInt64,
        DataType.Int8 => TensorElementType.Int8,
        DataType.Int16 => TensorElementType.Int16,
        DataType.Int32 => TensorElementType.Int32,
        DataType.Int64 => TensorElementType.Int64,
        DataType.FP16 => TensorElementType.Float16,
        DataType.BF16 => TensorElementType.BFloat16,
        DataType.FP32 => TensorElementType.Float,
        DataType.FP64 => TensorElementType.Double,
        DataType.Bytes => TensorElementType.String,
        _ => TensorElementType.DataTypeMax,
    };
}
