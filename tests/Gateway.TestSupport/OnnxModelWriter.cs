using System.Text;

namespace Gateway.Testing;

/// <summary>
/// Writes small real ONNX models (protobuf, by hand) for tests that need datatypes or shapes the
/// reference models do not have: an <c>Identity</c> of any element type, which ONNX Runtime runs
/// like any other model.
/// </summary>
public static class OnnxModelWriter
{
    /// <summary>ONNX TensorProto.DataType numbers by protocol datatype name.</summary>
    public static readonly Dictionary<string, int> ElementTypes = new()
    {
        ["FP32"] = 1,
        ["UINT8"] = 2,
        ["INT8"] = 3,
        ["UINT16"] = 4,
        ["INT16"] = 5,
        ["INT32"] = 6,
        ["INT64"] = 7,
        ["BYTES"] = 8,
        ["BOOL"] = 9,
        ["FP16"] = 10,
        ["FP64"] = 11,
        ["UINT32"] = 12,
        ["UINT64"] = 13,
        ["BF16"] = 16,
    };

    /// <summary>
    /// An Identity model: input <paramref name="input"/> to output <paramref name="output"/>,
    /// element type <paramref name="datatype"/>, shape with -1 for a variable dimension.
    /// </summary>
    public static byte[] Identity(string datatype, long[] shape, string input = "INPUT0", string output = "OUTPUT0")
    {
        var elementType = ElementTypes[datatype];
        var node = new Proto()
            .String(1, input)
            .String(2, output)
            .String(3, "identity")
            .String(4, "Identity");
        var graph = new Proto()
            .Message(1, node)
            .String(2, "g")
            .Message(11, ValueInfo(input, elementType, shape))
            .Message(12, ValueInfo(output, elementType, shape));
        var opset = new Proto().String(1, string.Empty).Varint(2, 17);
        var model = new Proto()
            .Varint(1, 8)
            .String(2, "gateway-tests")
            .Message(7, graph)
            .Message(8, opset);
        return model.ToArray();
    }

    /// <summary>Writes <paramref name="model"/> as <c>DIR/name/version/model.onnx</c>.</summary>
    public static void Write(string repository, string name, int version, byte[] model)
    {
        var directory = Path.Combine(repository, name, version.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(directory);
        File.WriteAllBytes(Path.Combine(directory, "model.onnx"), model);
    }

    private static Proto ValueInfo(string name, int elementType, long[] shape)
    {
        var dims = new Proto();
        for (var i = 0; i < shape.Length; i++)
        {
            var dim = shape[i] >= 0 ? new Proto().Varint(1, (ulong)shape[i]) : new Proto().String(2, "d" + i);
            dims.Message(1, dim);
        }

        var tensor = new Proto().Varint(1, (ulong)elementType).Message(2, dims);
        var type = new Proto().Message(1, tensor);
        return new Proto().String(1, name).Message(2, type);
    }

    private sealed class Proto
    {
        private readonly MemoryStream _stream = new();

        public Proto Varint(int field, ulong value)
        {
            Tag(field, 0);
            WriteVarint(value);
            return this;
        }

        public Proto String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

        public Proto Message(int field, Proto message) => Bytes(field, message.ToArray());

        public byte[] ToArray() => _stream.ToArray();

        private Proto Bytes(int field, byte[] value)
        {
            Tag(field, 2);
            WriteVarint((ulong)value.Length);
            _stream.Write(value);
            return this;
        }

        private void Tag(int field, int wireType) => WriteVarint((ulong)((field << 3) | wireType));

        private void WriteVarint(ulong value)
        {
            while (value >= 0x80)
            {
                _stream.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _stream.WriteByte((byte)value);
        }
    }
}
