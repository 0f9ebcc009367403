using System.Buffers;
using Gateway.Grpc;
using Gateway.Grpc.V2;
using Google.Protobuf;

namespace Gateway.Tests.Grpc;

/// <summary>
/// The pooled ModelInfer reader reads every message as protobuf's generated parser does, with
/// the raw inputs in pooled memory, whatever the field order and however the transport split the
/// bytes; what it does not expect it leaves to protobuf, errors included.
/// </summary>
public class ModelInferRequestReaderTests
{
    private static ModelInferRequest Sample(int inputs, int size)
    {
        var message = new ModelInferRequest { ModelName = "m", ModelVersion = "2", Id = "request-1" };
        message.Parameters["priority"] = new InferParameter { Int64Param = 3 };
        for (var i = 0; i < inputs; i++)
        {
            var tensor = new ModelInferRequest.Types.InferInputTensor { Name = "IN" + i, Datatype = "FP32", Shape = { 1, size / 4 } };
            message.Inputs.Add(tensor);
            var data = new byte[size];
            Random.Shared.NextBytes(data);
            message.RawInputContents.Add(ByteString.CopyFrom(data));
        }

        message.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "OUT" });
        return message;
    }

    /// <summary>The bytes as a sequence of segments of at most <paramref name="chunk"/> bytes, as a pipe may hand them over.</summary>
    private static ReadOnlySequence<byte> Split(byte[] bytes, int chunk)
    {
        Segment? first = null, last = null;
        for (var offset = 0; offset < bytes.Length; offset += chunk)
        {
            var segment = new Segment(bytes.AsMemory(offset, Math.Min(chunk, bytes.Length - offset)), last);
            first ??= segment;
            last = segment;
        }

        return first is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(first, 0, last!, last!.Memory.Length);
    }

    [Theory]
    [InlineData(1, 64, 1 << 20)]
    [InlineData(1, 602_112, 4096)]
    [InlineData(3, 1000, 7)]
    [InlineData(20, 16, 1)]
    public void Read_EqualsProtobufsParse_WithRawInputsPooled(int inputs, int size, int chunk)
    {
        var message = Sample(inputs, size);
        var bytes = message.ToByteArray();

        var read = ModelInferRequestReader.Read(Split(bytes, chunk));

        Assert.Equal(ModelInferRequest.Parser.ParseFrom(bytes), read);
        Assert.True(read.IsPooled);
        read.ReturnPooled();
        Assert.False(read.IsPooled);
    }

    [Fact]
    public void Read_RawContentsBeforeOtherFields_AndUnknownFields_AsProtobuf()
    {
        var message = Sample(2, 100);
        using var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        // raw_input_contents first, then an unknown varint field (99) and fixed64/fixed32 fields (98, 97), then the rest.
        foreach (var raw in message.RawInputContents)
        {
            output.WriteTag(7, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(raw);
        }

        output.WriteTag(99, WireFormat.WireType.Varint);
        output.WriteUInt64(300);
        output.WriteTag(98, WireFormat.WireType.Fixed64);
        output.WriteFixed64(7);
        output.WriteTag(97, WireFormat.WireType.Fixed32);
        output.WriteFixed32(5);
        var rest = message.Clone();
        rest.RawInputContents.Clear();
        rest.WriteTo(output);
        output.Flush();
        var bytes = stream.ToArray();

        var read = ModelInferRequestReader.Read(new ReadOnlySequence<byte>(bytes));

        Assert.Equal(ModelInferRequest.Parser.ParseFrom(bytes), read);
        Assert.True(read.IsPooled);
        read.ReturnPooled();
    }

    [Fact]
    public void Read_NoRawContents_IsProtobufsParse()
    {
        var message = Sample(0, 0);
        message.Inputs.Add(new ModelInferRequest.Types.InferInputTensor { Name = "X", Datatype = "INT32", Shape = { 2 }, Contents = new InferTensorContents { IntContents = { 1, 2 } } });
        var read = ModelInferRequestReader.Read(new ReadOnlySequence<byte>(message.ToByteArray()));
        Assert.Equal(message, read);
        Assert.False(read.IsPooled);
    }

    [Theory]
    [InlineData("truncated raw contents")]
    [InlineData("truncated tag")]
    [InlineData("group wire type")]
    public void Read_Malformed_FailsAsProtobufDoes(string what)
    {
        var good = Sample(1, 64).ToByteArray();
        var bytes = what switch
        {
            "truncated raw contents" => good[..^10],
            "truncated tag" => [.. good, 0x80],
            _ => [.. good, (7 << 3) | 3],
        };

        var expected = Assert.ThrowsAny<InvalidProtocolBufferException>(() => ModelInferRequest.Parser.ParseFrom(bytes));
        var actual = Assert.ThrowsAny<InvalidProtocolBufferException>(() => ModelInferRequestReader.Read(new ReadOnlySequence<byte>(bytes)));
        Assert.Equal(expected.Message, actual.Message);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, Segment? previous)
        {
            Memory = memory;
            if (previous is not null)
            {
                RunningIndex = previous.RunningIndex + previous.Memory.Length;
                previous.Next = this;
            }
        }
    }
}
