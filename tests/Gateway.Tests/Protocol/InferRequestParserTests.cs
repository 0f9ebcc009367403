using System.Text;
using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Protocol;
using Gateway.Repository;
using Gateway.Scheduling;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Protocol;

/// <summary>
/// The infer parser over a byte buffer, for every datatype (the reference models cover only a
/// few): values out of range for the type, text that is not valid UTF-16, and what a small body
/// can make the parser allocate.
/// </summary>
public sealed class InferRequestParserTests
{
    private static readonly Lazy<IModelRunner> s_runner = new(() =>
        new OnnxBackend().Load(new ModelLoadRequest { ModelName = "identity", Version = 1, ModelPath = ReferenceModels.ModelFile("identity") }).Runner!);

    /// <summary>A version whose one input X has <paramref name="type"/> and shape [-1, -1] (parsing only; never run).</summary>
    internal static ModelVersion Model(DataType type)
    {
        var shape = new TensorShape([-1, -1]);
        var signature = new ModelSignature([new TensorSpec("X", type, shape)], [new TensorSpec("Y", type, shape)]);
        var definition = new ModelDefinition { Name = "m_" + type.Name(), Backend = new OnnxBackend(), Scheduling = new SchedulingPolicy() };
        return new ModelVersion(definition, 1, s_runner.Value, signature, new SchedulerFactory(TimeProvider.System, NullLogger.Instance));
    }

    private static readonly Dictionary<DataType, ModelVersion> s_models = [];

    private static ModelVersion For(DataType type)
    {
        lock (s_models)
        {
            if (!s_models.TryGetValue(type, out var model))
            {
                s_models[type] = model = Model(type);
            }

            return model;
        }
    }

    private static string? Parse(DataType type, string json, byte[]? binary = null)
    {
        var request = new InferRequest();
        request.Start(For(type));
        try
        {
            return InferRequestParser.Parse(request, Encoding.UTF8.GetBytes(json), binary, hasBinaryHeader: binary is not null);
        }
        finally
        {
            request.Reset();
        }
    }

    private static string Body(string datatype, string shape, string data) =>
        $$"""{"inputs":[{"name":"X","datatype":"{{datatype}}","shape":{{shape}},"data":{{data}}}]}""";

    [Theory]
    [InlineData("FP16", "[65504, -65504, 1e-10, \"NaN\", \"Infinity\"]")]
    [InlineData("BF16", "[3.0e38, -3.0e38, 1e-45, \"-Infinity\", \"NaN\"]")]
    [InlineData("FP32", "[3.4028235e38, -3.4028235e38, 1e-50, \"Infinity\", \"1.5\"]")]
    [InlineData("FP64", "[1.7976931348623157e308, -1e308, 1e-400, \"NaN\", \"-Infinity\"]")]
    [InlineData("UINT8", "[0, 255, 1, 2, 3]")]
    [InlineData("INT8", "[-128, 127, 0, 1, 2]")]
    [InlineData("UINT16", "[0, 65535, 0, 1, 2]")]
    [InlineData("INT16", "[-32768, 32767, 0, 1, 2]")]
    [InlineData("UINT32", "[0, 4294967295, 0, 1, 2]")]
    [InlineData("INT32", "[-2147483648, 2147483647, 0, 1, 2]")]
    [InlineData("UINT64", "[0, 18446744073709551615, 0, 1, 2]")]
    [InlineData("INT64", "[-9223372036854775808, 9223372036854775807, 0, 1, 2]")]
    [InlineData("BOOL", "[true, false, true, false, true]")]
    [InlineData("BYTES", "[\"a\", \"\", \"\\u00e9\", \"\\ud83d\\ude00\", \"\\u0000\"]")]
    public void ValuesAtTheEdgesOfTheirType_Accepted(string type, string data)
    {
        Assert.True(DataTypes.TryParse(type, out var dataType));
        Assert.Null(Parse(dataType, Body(type, "[1,5]", data)));
    }

    [Theory]
    [InlineData("FP16", "[1, 65520]")]
    [InlineData("FP16", "[1, -1e6]")]
    [InlineData("FP16", "[1, \"1e300\"]")]
    [InlineData("BF16", "[1, 3.5e38]")]
    [InlineData("BF16", "[1, 1e39]")]
    [InlineData("FP32", "[1, 1e39]")]
    [InlineData("FP32", "[1, -3.5e38]")]
    [InlineData("FP32", "[1, \"1e39\"]")]
    [InlineData("FP64", "[1, 1e400]")]
    [InlineData("FP64", "[1, \"-1e400\"]")]
    [InlineData("UINT8", "[1, 256]")]
    [InlineData("INT8", "[1, -129]")]
    [InlineData("UINT16", "[1, 65536]")]
    [InlineData("INT16", "[1, 32768]")]
    [InlineData("UINT32", "[1, -1]")]
    [InlineData("INT32", "[1, 2147483648]")]
    [InlineData("UINT64", "[1, 18446744073709551616]")]
    [InlineData("INT64", "[1, 9223372036854775808]")]
    [InlineData("INT64", "[1, 1.0]")]
    [InlineData("BOOL", "[true, 1]")]
    [InlineData("BYTES", "[\"a\", 1]")]
    [InlineData("BYTES", "[\"a\", \"\\udc00\"]")]
    [InlineData("BYTES", "[\"a\", \"\\ud800\\u0041\"]")]
    public void ValueOutOfRangeForItsType_Refused_NamingTheElement(string type, string data)
    {
        Assert.True(DataTypes.TryParse(type, out var dataType));
        var error = Parse(dataType, Body(type, "[1,2]", data));
        Assert.NotNull(error);
        Assert.Contains("input 'X': element 1 of 'data' is not a valid " + type, error, StringComparison.Ordinal);
    }

    [Fact]
    public void BytesElementWithALoneSurrogate_SaysWhy()
    {
        var error = Parse(DataType.Bytes, Body("BYTES", "[1,1]", "[\"ab\\udc00\"]"));
        Assert.Equal("input 'X': element 0 of 'data' is not a valid BYTES value: \\udc00 is a lone UTF-16 surrogate", error);
    }

    public static TheoryData<string, string> HugeClaims() => new()
    {
        // In member order: the data follows the shape.
        { "FP32", Body("FP32", "[33554431,16]", "[1]") },
        { "FP64", Body("FP64", "[16777215,16]", "[1,2]") },
        { "BOOL", Body("BOOL", "[2147483647,1]", "[]") },
        { "BYTES", Body("BYTES", "[536870911,1]", "[\"a\"]") },
        // Data before the shape: read at the end of the input object.
        { "FP32", """{"inputs":[{"data":[1],"name":"X","datatype":"FP32","shape":[33554431,16]}]}""" },
        { "BYTES", """{"inputs":[{"data":["a"],"name":"X","datatype":"BYTES","shape":[536870911,1]}]}""" },
    };

    [Theory]
    [MemberData(nameof(HugeClaims))]
    public void SmallBodyClaimingAHugeShape_RefusedWithoutAllocatingForIt(string type, string json)
    {
        Assert.True(DataTypes.TryParse(type, out var dataType));
        Assert.True(json.Length < 150);
        Parse(dataType, json); // warm up: JIT, lazy statics, the pool's first rent

        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Parse(dataType, json);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.NotNull(error);
        Assert.Contains("element(s), but shape", error, StringComparison.Ordinal);
        // The error message and a small pooled array at most; the claim was up to 2 GiB.
        Assert.True(allocated < 64 * 1024, $"parsing a {json.Length}-byte body allocated {allocated} bytes: {error}");
    }

    [Fact]
    public void BinaryBodyClaimingAHugeShape_AllocatesNothingForIt()
    {
        var json = """{"inputs":[{"name":"X","datatype":"FP32","shape":[33554431,16],"parameters":{"binary_data_size":2147483584}}]}""";
        Parse(DataType.FP32, json, new byte[64]);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Parse(DataType.FP32, json, new byte[64]);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("runs past the end of the binary data", error, StringComparison.Ordinal);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes");
    }

    [Fact]
    public void ShapeThatTheDataCanHold_StillParses()
    {
        // 2 bytes per element is the bound, not an estimate: the tightest array parses.
        var data = "[" + string.Join(",", Enumerable.Repeat("1", 1000)) + "]";
        Assert.Null(Parse(DataType.UInt8, Body("UINT8", "[1000,1]", data)));
        Assert.Null(Parse(DataType.Bytes, Body("BYTES", "[3,1]", "[\"\",\"\",\"\"]")));
    }

    public static TheoryData<string, string> NotUtf8() => new()
    {
        // \xD2 stands for a byte that cannot start a UTF-8 sequence there; found by the fuzzer.
        { """{"inputs":[{"name":"\xD2X","datatype":"FP32","shape":[1,1],"data":[1]}]}""", "an input's 'name' is not valid text: byte 0xD2 at offset 0 is not UTF-8" },
        { """{"id":"a\xFFb","inputs":[{"name":"X","datatype":"FP32","shape":[1,1],"data":[1]}]}""", "'id' is not valid text: byte 0xFF at offset 1 is not UTF-8" },
        { """{"inputs":[{"name":"X","datatype":"BF16\xD2","shape":[1,1],"data":[1]}]}""", "input 'X': 'datatype' is not valid text" },
        { """{"inputs":[{"name":"X","\xC0\x80":1,"datatype":"FP32","shape":[1,1],"data":[1]}]}""", "input 'X': a member name is not valid text" },
        { """{"inputs":[{"name":"X","datatype":"FP32","shape":[1,1],"data":[1]}],"outputs":[{"name":"Y\xED\xA0\x80"}]}""", "an output's 'name' is not valid text" },
    };

    [Theory]
    [MemberData(nameof(NotUtf8))]
    public void StringThatIsNotUtf8_RefusedNamingTheField(string json, string message)
    {
        var bytes = Latin1Escapes(json);
        var request = new InferRequest();
        request.Start(For(DataType.FP32));
        var error = InferRequestParser.Parse(request, bytes, default, hasBinaryHeader: false);
        request.Reset();
        Assert.NotNull(error);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void BytesElementThatIsNotUtf8_Refused()
    {
        var bytes = Latin1Escapes("""{"inputs":[{"name":"X","datatype":"BYTES","shape":[1,1],"data":["a\xFF"]}]}""");
        var request = new InferRequest();
        request.Start(For(DataType.Bytes));
        var error = InferRequestParser.Parse(request, bytes, default, hasBinaryHeader: false);
        request.Reset();
        Assert.Equal("input 'X': element 0 of 'data' is not a valid BYTES value: byte 0xFF at offset 1 is not UTF-8", error);
    }

    /// <summary>UTF-8 of the text, with each \xHH written as that raw byte.</summary>
    private static byte[] Latin1Escapes(string text)
    {
        var bytes = new List<byte>();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 3 < text.Length && text[i + 1] == 'x')
            {
                bytes.Add(Convert.ToByte(text.Substring(i + 2, 2), 16));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(text[i].ToString()));
            }
        }

        return [.. bytes];
    }

    [Fact]
    public void MalformedJsonBeforeALongTail_ErrorStaysShort()
    {
        // Found by fuzzing: the reader's message quoted everything after an invalid escape.
        var json = "{\"parameters\":{\"binary_data_output\":t\\urue},\"id\":\"" + new string('x', 200_000) + "\"}";
        var error = Parse(DataType.FP32, json);
        Assert.NotNull(error);
        Assert.StartsWith("malformed JSON: ", error, StringComparison.Ordinal);
        Assert.True(error.Length < 400, $"{error.Length} characters");
    }
}
