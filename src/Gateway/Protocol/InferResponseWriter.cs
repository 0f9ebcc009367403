using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Unicode;
using Gateway.Abstractions;

namespace Gateway.Protocol;

/// <summary>
/// Writes the JSON part of an infer response straight from the backend's output memory. Binary
/// outputs get a <c>binary_data_size</c> here and their bytes are appended by the caller.
/// </summary>
internal static class InferResponseWriter
{
    private static readonly JsonEncodedText s_modelName = JsonEncodedText.Encode("model_name");
    private static readonly JsonEncodedText s_modelVersion = JsonEncodedText.Encode("model_version");
    private static readonly JsonEncodedText s_id = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText s_outputs = JsonEncodedText.Encode("outputs");
    private static readonly JsonEncodedText s_name = JsonEncodedText.Encode("name");
    private static readonly JsonEncodedText s_datatype = JsonEncodedText.Encode("datatype");
    private static readonly JsonEncodedText s_shape = JsonEncodedText.Encode("shape");
    private static readonly JsonEncodedText s_data = JsonEncodedText.Encode("data");
    private static readonly JsonEncodedText s_parameters = JsonEncodedText.Encode("parameters");
    private static readonly JsonEncodedText s_binaryDataSize = JsonEncodedText.Encode("binary_data_size");
    private static readonly JsonEncodedText[] s_typeNames = CreateTypeNames();

    /// <summary>
    /// Writes the response JSON. Returns null on success (with the number of binary bytes that
    /// must follow), else an error message for an output JSON cannot carry.
    /// </summary>
    public static string? Write(Utf8JsonWriter writer, InferRequest request, RunOutputs outputs, out long binaryLength)
    {
        binaryLength = 0;
        var model = request.Model;
        writer.WriteStartObject();
        writer.WriteString(s_modelName, model.NameJson);
        writer.WriteString(s_modelVersion, model.VersionJson);
        if (request.HasId)
        {
            writer.WriteString(s_id, request.Id.Span);
        }

        writer.WriteStartArray(s_outputs);
        for (var i = 0; i < request.OutputCount; i++)
        {
            var outputIndex = request.Outputs[i];
            var type = outputs.GetDataType(i);
            var shape = outputs.GetShape(i);
            var data = outputs.GetData(i);
            writer.WriteStartObject();
            writer.WriteString(s_name, model.OutputNamesJson[outputIndex]);
            writer.WriteString(s_datatype, s_typeNames[(int)type]);
            writer.WriteStartArray(s_shape);
            foreach (var dim in shape.Dims)
            {
                writer.WriteNumberValue(dim);
            }

            writer.WriteEndArray();
            if (request.OutputBinary[i])
            {
                writer.WriteStartObject(s_parameters);
                writer.WriteNumber(s_binaryDataSize, data.Length);
                writer.WriteEndObject();
                binaryLength += data.Length;
            }
            else
            {
                writer.WriteStartArray(s_data);
                var error = WriteData(writer, type, data);
                if (error is not null)
                {
                    return $"output '{model.Signature.Outputs[outputIndex].Name}': {error}";
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        return null;
    }

    private static string? WriteData(Utf8JsonWriter writer, DataType type, ReadOnlySpan<byte> data)
    {
        switch (type)
        {
            case DataType.Bool:
                foreach (var b in data)
                {
                    writer.WriteBooleanValue(b != 0);
                }

                break;
            case DataType.UInt8:
                foreach (var b in data)
                {
                    writer.WriteNumberValue(b);
                }

                break;
            case DataType.Int8:
                foreach (var v in MemoryMarshal.Cast<byte, sbyte>(data))
                {
                    writer.WriteNumberValue(v);
                }

                break;
            case DataType.UInt16:
                foreach (var v in MemoryMarshal.Cast<byte, ushort>(data))
                {
                    writer.WriteNumberValue(v);
                }

                break;
            case DataType.Int16:
                foreach (var v in MemoryMarshal.Cast<byte, short>(data))
                {
                    writer.WriteNumberValue(v);
                }

                break;
            case DataType.UInt32:
                foreach (var v in MemoryMarshal.Cast<byte, uint>(data))
                {
                    writer.WriteNumberValue(v);
                }

                break;
            case DataType.Int32:
                foreach (var v in MemoryMarshal.Cast<byte, int>(data))
                {
                    writer.WriteNumberValue(v);
                }

                break;
            case DataType.UInt64:
                foreach (var v in MemoryMarshal.Cast<byte, ulong>(data))
                {
                    writer.WriteNumberValue(v);
                }

                break;
            case DataType.Int64:
                foreach (var v in MemoryMarshal.Cast<byte, long>(data))
                {
                    writer.WriteNumberValue(v);
                }

                break;
            case DataType.FP16:
                foreach (var v in MemoryMarshal.Cast<byte, Half>(data))
                {
                    WriteFloat(writer, (float)v);
                }

                break;
            case DataType.BF16:
                foreach (var v in MemoryMarshal.Cast<byte, ushort>(data))
                {
                    WriteFloat(writer, BF16Reader.ToSingle(v));
                }

                break;
            case DataType.FP32:
                foreach (var v in MemoryMarshal.Cast<byte, float>(data))
                {
                    WriteFloat(writer, v);
                }

                break;
            case DataType.FP64:
                foreach (var v in MemoryMarshal.Cast<byte, double>(data))
                {
                    if (double.IsFinite(v))
                    {
                        writer.WriteNumberValue(v);
                    }
                    else
                    {
                        WriteSpecial(writer, double.IsNaN(v), v > 0);
                    }
                }

                break;
            case DataType.Bytes:
                while (data.Length >= 4)
                {
                    var length = (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(data);
                    var element = data.Slice(4, length);
                    if (!Utf8.IsValid(element))
                    {
                        return "holds bytes that are not valid UTF-8 text; request it with binary_data";
                    }

                    writer.WriteStringValue(element);
                    data = data[(4 + length)..];
                }

                break;
            default:
                return $"datatype {type.Name()} cannot be written";
        }

        return null;
    }

    private static void WriteFloat(Utf8JsonWriter writer, float value)
    {
        if (float.IsFinite(value))
        {
            writer.WriteNumberValue(value);
        }
        else
        {
            WriteSpecial(writer, float.IsNaN(value), value > 0);
        }
    }

    private static void WriteSpecial(Utf8JsonWriter writer, bool isNaN, bool positive) =>
        writer.WriteStringValue(isNaN ? SpecialFloats.NaN : positive ? SpecialFloats.PositiveInfinity : SpecialFloats.NegativeInfinity);

    private static JsonEncodedText[] CreateTypeNames()
    {
        var values = Enum.GetValues<DataType>();
        var names = new JsonEncodedText[values.Length];
        foreach (var value in values)
        {
            names[(int)value] = JsonEncodedText.Encode(value.Name());
        }

        return names;
    }
}
