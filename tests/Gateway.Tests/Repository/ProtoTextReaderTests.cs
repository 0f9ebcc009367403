using Gateway.Repository;

namespace Gateway.Tests.Repository;

public sealed class ProtoTextReaderTests
{
    [Fact]
    public void ReadsTritonsImageClassifierExample()
    {
        const string text = """
            name: "densenet_onnx"   # the model's directory name
            platform: "onnxruntime_onnx"
            max_batch_size : 8
            input [
              {
                name: "data_0"
                data_type: TYPE_FP32
                format: FORMAT_NCHW
                dims: [ 3, 224, 224 ]
                reshape { shape: [ 1, 3, 224, 224 ] }
              }
            ]
            output {
              name: "fc6_1"; data_type: TYPE_FP32, dims: [ 1000 ]
              label_filename: 'densenet_labels.txt'
            }
            dynamic_batching < preferred_batch_size: [ 4, 8 ] max_queue_delay_microseconds: 100 >
            """;

        var root = ProtoTextReader.Parse(text, out var error);

        Assert.Equal("", error);
        Assert.NotNull(root);
        Assert.Equal(["name", "platform", "max_batch_size", "input", "output", "dynamic_batching"], root.Fields.Select(f => f.Name));
        Assert.Equal(new ProtoTextScalar(ProtoTextScalarKind.String, "densenet_onnx", 1, 7), root.Fields[0].Value);
        Assert.Equal(new ProtoTextScalar(ProtoTextScalarKind.Number, "8", 3, 18), root.Fields[2].Value);

        var input = Assert.IsType<ProtoTextMessage>(root.Fields[3].Value);
        Assert.Equal(5, input.Line);
        Assert.Equal(["name", "data_type", "format", "dims", "dims", "dims", "reshape"], input.Fields.Select(f => f.Name));
        Assert.Equal(["3", "224", "224"], input.Fields.Where(f => f.Name == "dims").Select(f => ((ProtoTextScalar)f.Value).Text));
        Assert.Equal(ProtoTextScalarKind.Identifier, ((ProtoTextScalar)input.Fields[1].Value).Kind);
        var reshape = Assert.IsType<ProtoTextMessage>(input.Fields[6].Value);
        Assert.Equal(4, reshape.Fields.Count);

        var output = Assert.IsType<ProtoTextMessage>(root.Fields[4].Value);
        Assert.Equal(["name", "data_type", "dims", "label_filename"], output.Fields.Select(f => f.Name));
        Assert.Equal("densenet_labels.txt", ((ProtoTextScalar)output.Fields[3].Value).Text);

        var batching = Assert.IsType<ProtoTextMessage>(root.Fields[5].Value);
        Assert.Equal(["preferred_batch_size", "preferred_batch_size", "max_queue_delay_microseconds"], batching.Fields.Select(f => f.Name));
    }

    [Fact]
    public void RepeatedMessagesMayBeWrittenOneByOneOrAsAList()
    {
        var oneByOne = ProtoTextReader.Parse("instance_group { count: 2 kind: KIND_CPU }\ninstance_group { count: 1 kind: KIND_GPU gpus: [0, 1] }", out _);
        var list = ProtoTextReader.Parse("instance_group [ { count: 2 kind: KIND_CPU }, { count: 1, kind: KIND_GPU, gpus: [0, 1] } ]", out _);

        Assert.NotNull(oneByOne);
        Assert.NotNull(list);
        Assert.Equal(2, oneByOne.Fields.Count);
        Assert.Equal(2, list.Fields.Count);
        var second = (ProtoTextMessage)list.Fields[1].Value;
        Assert.Equal(["count", "kind", "gpus", "gpus"], second.Fields.Select(f => f.Name));
    }

    [Theory]
    [InlineData("s: \"a\\tb\\n\\\"q\\\"\"", "a\tb\n\"q\"")]
    [InlineData("s: 'it\\'s'", "it's")]
    [InlineData("s: \"\\x41\\101\\u00e9\"", "AAé")]
    [InlineData("s: \"con\" 'cat' \"enated\"", "concatenated")]
    [InlineData("s: \"\"", "")]
    public void StringsDecodeEscapesAndConcatenate(string text, string expected)
    {
        var root = ProtoTextReader.Parse(text, out var error);

        Assert.True(root is not null, error);
        var scalar = Assert.IsType<ProtoTextScalar>(Assert.Single(root.Fields).Value);
        Assert.Equal(ProtoTextScalarKind.String, scalar.Kind);
        Assert.Equal(expected, scalar.Text);
    }

    [Theory]
    [InlineData("v: -1", "-1", "Number")]
    [InlineData("v: +7", "+7", "Number")]
    [InlineData("v: 1.5e-3", "1.5e-3", "Number")]
    [InlineData("v: 0x1F", "0x1F", "Number")]
    [InlineData("v: .5", ".5", "Number")]
    [InlineData("v: -inf", "-inf", "Identifier")]
    [InlineData("v: true", "true", "Identifier")]
    public void ScalarsKeepTheirText(string text, string expected, string kind)
    {
        var root = ProtoTextReader.Parse(text, out var error);

        Assert.True(root is not null, error);
        var scalar = Assert.IsType<ProtoTextScalar>(Assert.Single(root.Fields).Value);
        // The kind goes by name: the enum is internal and a public test method cannot take it.
        Assert.Equal(kind, scalar.Kind.ToString());
        Assert.Equal(expected, scalar.Text);
    }

    [Fact]
    public void AnEmptyDocumentAndAnEmptyListAreValid()
    {
        var empty = ProtoTextReader.Parse("  # only a comment\n\n", out _);
        var emptyList = ProtoTextReader.Parse("dims: []", out _);

        Assert.NotNull(empty);
        Assert.Empty(empty.Fields);
        Assert.NotNull(emptyList);
        Assert.Empty(emptyList.Fields);
    }

    [Theory]
    [InlineData("name \"x\"", "line 1, column 6: expected ':' or '{' after field 'name', found '\"'")]
    [InlineData("input {\n  name: \"a\"\n", "line 3, column 1: the message opened at line 1, column 7 is not closed (expected '}')")]
    [InlineData("input { name: \"a\" >", "line 1, column 19: unexpected '>'")]
    [InlineData("}", "line 1, column 1: unexpected '}'")]
    [InlineData("dims: [1, 2", "line 1, column 12: the list of field 'dims' is not closed (expected ']')")]
    [InlineData("dims: [1 2]", "line 1, column 10: expected ',' or ']' in the list of field 'dims', found '2'")]
    [InlineData("name: \"abc", "line 1, column 11: a string is not closed on its line")]
    [InlineData("name: \"a\nb\"", "line 1, column 9: a string is not closed on its line")]
    [InlineData("name: \"\\q\"", "line 1, column 9: unknown escape '\\q' in a string")]
    [InlineData("name: \"\\u12\"", "line 1, column 12: an escape in a string has too few digits")]
    [InlineData("max_batch_size:", "line 1, column 16: field 'max_batch_size' has no value")]
    [InlineData("max_batch_size: -", "line 1, column 18: field 'max_batch_size' has '-' without a number")]
    [InlineData("a: @", "line 1, column 4: field 'a' has no valid value: found '@'")]
    [InlineData("[ext.field]: 1", "line 1, column 1: extension and Any fields ('[type.name]') are not supported")]
    [InlineData("3: 1", "line 1, column 1: expected a field name, found '3'")]
    [InlineData("a: 1\n\u0001", "line 2, column 1: expected a field name, found character U+0001")]
    public void MalformedTextNamesTheLineColumnAndReason(string text, string expected)
    {
        var root = ProtoTextReader.Parse(text, out var error);

        Assert.Null(root);
        Assert.Equal(expected, error);
    }

    [Fact]
    public void DeepNestingIsAnErrorNotAStackOverflow()
    {
        var text = string.Concat(Enumerable.Repeat("a {", 100_000));

        var root = ProtoTextReader.Parse(text, out var error);

        Assert.Null(root);
        Assert.Equal($"line 1, column {(ProtoTextReader.MaxDepth * 3) + 3}: messages are nested deeper than {ProtoTextReader.MaxDepth} levels", error);
    }

    [Fact]
    public void NestingUpToTheLimitIsRead()
    {
        var depth = ProtoTextReader.MaxDepth;
        var text = string.Concat(Enumerable.Repeat("a {", depth)) + new string('}', depth);

        var root = ProtoTextReader.Parse(text, out var error);

        Assert.True(root is not null, error);
    }
}
