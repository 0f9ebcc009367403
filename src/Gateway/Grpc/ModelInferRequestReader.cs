using System.Buffers;
using Gateway.Grpc.V2;
using Google.Protobuf;

namespace Gateway.Grpc;

/// <summary>
/// Reads a <see cref="ModelInferRequest"/> without giving each <c>raw_input_contents</c> entry
/// a new array: protobuf copies every bytes field into a fresh <c>byte[]</c>, which for an image
/// (602,112 bytes for mobilenet_v2) lands on the large object heap on every call and, with the
/// gateway's workstation GC, brings a blocking gen-2 collection every few calls (the codec
/// benchmark measured it: docs/PERFORMANCE.md). Here the message's top-level fields are walked
/// once; the raw contents are copied out of the transport's buffer into one array rented from
/// the shared pool (the REST path also reads its body into pooled memory) and wrapped, not
/// copied again; every other field goes through protobuf's own parser. Anything the walk does
/// not expect (groups, truncated input) is left to protobuf, so errors stay protobuf's.
/// </summary>
internal static class ModelInferRequestReader
{
    // raw_input_contents = 7 (grpc_predict_v2.proto), length-delimited.
    private const int RawInputContentsField = 7;

    /// <summary>The request deserializer for the ModelInfer method.</summary>
    public static ModelInferRequest Read(ReadOnlySequence<byte> payload)
    {
        if (!Measure(payload, out var rawBytes, out var otherBytes, out var rawCount) || rawBytes == 0)
        {
            return ModelInferRequest.Parser.ParseFrom(payload);
        }

        var pooled = ArrayPool<byte>.Shared.Rent(checked((int)(rawBytes + otherBytes)));
        try
        {
            Span<int> lengths = rawCount <= 16 ? stackalloc int[16] : new int[rawCount];
            var count = 0;
            var otherStart = (int)rawBytes;
            var rawOffset = 0;
            var otherOffset = otherStart;
            var reader = new SequenceReader<byte>(payload);
            while (!reader.End)
            {
                var fieldStart = reader.Position;
                TryReadVarint(ref reader, out var tag);
                if ((int)(tag >> 3) == RawInputContentsField && (tag & 7) == 2)
                {
                    TryReadVarint(ref reader, out var length);
                    var target = pooled.AsSpan(rawOffset, (int)length);
                    reader.TryCopyTo(target);
                    reader.Advance((long)length);
                    lengths[count++] = (int)length;
                    rawOffset += (int)length;
                }
                else
                {
                    Skip(ref reader, tag);
                    var field = payload.Slice(fieldStart, reader.Position);
                    field.CopyTo(pooled.AsSpan(otherOffset));
                    otherOffset += (int)field.Length;
                }
            }

            var message = ModelInferRequest.Parser.ParseFrom(pooled.AsSpan(otherStart, otherOffset - otherStart));
            var offset = 0;
            foreach (var length in lengths[..count])
            {
                // Views of the rented array, which the message owns until ReturnPooled.
                message.RawInputContents.Add(UnsafeByteOperations.UnsafeWrap(pooled.AsMemory(offset, length)));
                offset += length;
            }

            message.AttachPooled(pooled);
            return message;
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(pooled);
            throw;
        }
    }

    /// <summary>
    /// Walks the top-level fields: the bytes of raw_input_contents and of everything else.
    /// False when the walk meets anything but well-formed varint, fixed and length-delimited fields.
    /// </summary>
    private static bool Measure(ReadOnlySequence<byte> payload, out long rawBytes, out long otherBytes, out int rawCount)
    {
        rawBytes = 0;
        otherBytes = 0;
        rawCount = 0;
        var reader = new SequenceReader<byte>(payload);
        while (!reader.End)
        {
            var start = reader.Consumed;
            if (!TryReadVarint(ref reader, out var tag) || tag >> 3 == 0)
            {
                return false;
            }

            if ((int)(tag >> 3) == RawInputContentsField && (tag & 7) == 2)
            {
                if (!TryReadVarint(ref reader, out var length) || length > (ulong)reader.Remaining)
                {
                    return false;
                }

                reader.Advance((long)length);
                rawBytes += (long)length;
                rawCount++;
            }
            else
            {
                if (!Skip(ref reader, tag))
                {
                    return false;
                }

                otherBytes += reader.Consumed - start;
            }

            if (rawBytes + otherBytes > Array.MaxLength)
            {
                return false;
            }
        }

        return true;
    }

    private static bool Skip(ref SequenceReader<byte> reader, ulong tag)
    {
        switch (tag & 7)
        {
            case 0:
                return TryReadVarint(ref reader, out _);
            case 1:
                return reader.Remaining >= 8 && Advance(ref reader, 8);
            case 2:
                return TryReadVarint(ref reader, out var length) && length <= (ulong)reader.Remaining && Advance(ref reader, (long)length);
            case 5:
                return reader.Remaining >= 4 && Advance(ref reader, 4);
            default:
                // Groups (3, 4) and invalid wire types: protobuf decides.
                return false;
        }
    }

    private static bool Advance(ref SequenceReader<byte> reader, long count)
    {
        reader.Advance(count);
        return true;
    }

    private static bool TryReadVarint(ref SequenceReader<byte> reader, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (!reader.TryRead(out var b))
            {
                return false;
            }

            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
