using System.Buffers.Text;
using System.Text.Json;

namespace Gateway.Protocol;

/// <summary>
/// Reads one JSON token as a tensor element of type <typeparamref name="T"/>. Implemented by
/// structs so the generic data loop is specialised per type with no per-element dispatch.
/// </summary>
internal interface IJsonElementReader<T>
    where T : unmanaged
{
    static abstract bool TryRead(ref Utf8JsonReader reader, out T value);
}

internal struct BoolReader : IJsonElementReader<byte>
{
    public static bool TryRead(ref Utf8JsonReader reader, out byte value)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.True:
                value = 1;
                return true;
            case JsonTokenType.False:
                value = 0;
                return true;
            default:
                value = 0;
                return false;
        }
    }
}

internal struct UInt8Reader : IJsonElementReader<byte>
{
    public static bool TryRead(ref Utf8JsonReader reader, out byte value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetByte(out value);
    }
}

internal struct Int8Reader : IJsonElementReader<sbyte>
{
    public static bool TryRead(ref Utf8JsonReader reader, out sbyte value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetSByte(out value);
    }
}

internal struct UInt16Reader : IJsonElementReader<ushort>
{
    public static bool TryRead(ref Utf8JsonReader reader, out ushort value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetUInt16(out value);
    }
}

internal struct Int16Reader : IJsonElementReader<short>
{
    public static bool TryRead(ref Utf8JsonReader reader, out short value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt16(out value);
    }
}

internal struct UInt32Reader : IJsonElementReader<uint>
{
    public static bool TryRead(ref Utf8JsonReader reader, out uint value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetUInt32(out value);
    }
}

internal struct Int32Reader : IJsonElementReader<int>
{
    public static bool TryRead(ref Utf8JsonReader reader, out int value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out value);
    }
}

internal struct UInt64Reader : IJsonElementReader<ulong>
{
    public static bool TryRead(ref Utf8JsonReader reader, out ulong value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetUInt64(out value);
    }
}

internal struct Int64Reader : IJsonElementReader<long>
{
    public static bool TryRead(ref Utf8JsonReader reader, out long value)
    {
        value = 0;
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out value);
    }
}

/// <remarks>
/// A JSON number is finite; one too large for the type (1e39 as FP32) is refused rather than read
/// as infinity. Infinity and NaN are sent as strings (<see cref="SpecialFloats"/>).
/// </remarks>
internal struct FP32Reader : IJsonElementReader<float>
{
    public static bool TryRead(ref Utf8JsonReader reader, out float value)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            return reader.TryGetSingle(out value) && float.IsFinite(value);
        }

        var ok = SpecialFloats.TryRead(ref reader, out var special);
        value = (float)special;
        return ok && (float.IsFinite(value) || !double.IsFinite(special));
    }
}

internal struct FP64Reader : IJsonElementReader<double>
{
    public static bool TryRead(ref Utf8JsonReader reader, out double value)
    {
        if (reader.TokenType == JsonTokenType.Number)
        {
            return reader.TryGetDouble(out value) && double.IsFinite(value);
        }

        return SpecialFloats.TryRead(ref reader, out value);
    }
}

internal struct FP16Reader : IJsonElementReader<Half>
{
    public static bool TryRead(ref Utf8JsonReader reader, out Half value)
    {
        var ok = FP64Reader.TryRead(ref reader, out var d);
        value = (Half)d;
        return ok && (Half.IsFinite(value) || !double.IsFinite(d));
    }
}

/// <summary>bfloat16 is the upper half of an IEEE float, rounded to nearest even.</summary>
internal struct BF16Reader : IJsonElementReader<ushort>
{
    public static bool TryRead(ref Utf8JsonReader reader, out ushort value)
    {
        var ok = FP32Reader.TryRead(ref reader, out var f);
        value = FromSingle(f);
        // Rounding the largest floats to 8 bits of mantissa can carry into infinity.
        return ok && (float.IsFinite(ToSingle(value)) || !float.IsFinite(f));
    }

    public static ushort FromSingle(float f)
    {
        var bits = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        var rounding = 0x7FFFu + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);
}

/// <summary>
/// JSON has no NaN or infinity; the gateway writes them as the strings <c>"NaN"</c>,
/// <c>"Infinity"</c> and <c>"-Infinity"</c> and reads them back the same way.
/// </summary>
internal static class SpecialFloats
{
    public static ReadOnlySpan<byte> NaN => "NaN"u8;

    public static ReadOnlySpan<byte> PositiveInfinity => "Infinity"u8;

    public static ReadOnlySpan<byte> NegativeInfinity => "-Infinity"u8;

    public static bool TryRead(ref Utf8JsonReader reader, out double value)
    {
        value = 0;
        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped)
        {
            return false;
        }

        var text = reader.ValueSpan;
        if (text.SequenceEqual(NaN))
        {
            value = double.NaN;
            return true;
        }

        if (text.SequenceEqual(PositiveInfinity))
        {
            value = double.PositiveInfinity;
            return true;
        }

        if (text.SequenceEqual(NegativeInfinity))
        {
            value = double.NegativeInfinity;
            return true;
        }

        // Numbers sent as strings ("1.5") are accepted too, as some clients quote them; like
        // JSON numbers they must be finite ("1e400" is not infinity).
        return Utf8Parser.TryParse(text, out value, out var consumed) && consumed == text.Length && double.IsFinite(value);
    }
}
