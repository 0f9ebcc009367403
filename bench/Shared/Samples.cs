using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Gateway.Perf;

/// <summary>One input of a reference sample: name, protocol datatype, shape and raw little-endian bytes.</summary>
internal sealed record SampleTensor(string Name, string DataType, long[] Shape, byte[] Data)
{
    public override string ToString() => $"{Name} {DataType} [{string.Join(',', Shape)}]";
}

/// <summary>A reference sample from <c>tests/fixtures/models</c> (inputs only).</summary>
internal sealed record Sample(string Model, int Index, SampleTensor[] Inputs)
{
    /// <summary>Reads like <c>mlp [32,784]</c>.</summary>
    public override string ToString() => $"{Model} [{string.Join(',', Inputs[0].Shape)}]";
}

/// <summary>
/// Reference samples and V2 request bodies built from them, shared by the benchmarks and the
/// load runner so both send exactly the same bytes.
/// </summary>
internal static class Samples
{
    private static readonly Dictionary<string, string[]> s_inputNames = new(StringComparer.Ordinal)
    {
        ["identity"] = ["INPUT0"],
        ["add_sub"] = ["INPUT0", "INPUT1"],
        ["mlp"] = ["input"],
        ["mobilenet_v2"] = ["input"],
        ["bert_tiny"] = ["input_ids", "attention_mask"],
    };

    /// <summary>The directory holding <c>Gateway.sln</c>, searched upwards from <paramref name="start"/>.</summary>
    public static string FindRepositoryRoot(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Gateway.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"cannot find the repository root (Gateway.sln) above {start}");
    }

    /// <summary>Reads sample <paramref name="index"/> of <paramref name="model"/> from the fixtures directory.</summary>
    public static Sample Load(string fixtures, string model, int index)
    {
        if (!s_inputNames.TryGetValue(model, out var names))
        {
            throw new ArgumentException($"no reference samples for model '{model}' (known: {string.Join(", ", s_inputNames.Keys)})", nameof(model));
        }

        var inputs = new SampleTensor[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            var stem = Path.Combine(fixtures, $"{model}.s{index}.in{i}");
            var dtype = File.ReadAllText(stem + ".dtype").Trim();
            var shape = Array.ConvertAll(File.ReadAllText(stem + ".shape").Trim().Split(','), static s => long.Parse(s, CultureInfo.InvariantCulture));
            inputs[i] = new SampleTensor(names[i], ProtocolType(dtype), shape, File.ReadAllBytes(stem + ".bin"));
        }

        return new Sample(model, index, inputs);
    }

    /// <summary>A JSON infer request with every input as a flat <c>data</c> array; outputs default to JSON.</summary>
    public static byte[] JsonBody(Sample sample, string? id = null)
    {
        var builder = new StringBuilder(64 + (sample.Inputs[0].Data.Length * 3));
        builder.Append('{');
        if (id is not null)
        {
            builder.Append("\"id\":\"").Append(id).Append("\",");
        }

        builder.Append("\"inputs\":[");
        for (var i = 0; i < sample.Inputs.Length; i++)
        {
            var input = sample.Inputs[i];
            builder.Append(i > 0 ? "," : string.Empty)
                .Append("{\"name\":\"").Append(input.Name)
                .Append("\",\"datatype\":\"").Append(input.DataType)
                .Append("\",\"shape\":[").Append(string.Join(',', input.Shape))
                .Append("],\"data\":[");
            AppendValues(builder, input);
            builder.Append("]}");
        }

        builder.Append("]}");
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    /// <summary>
    /// A binary-extension request: JSON header (inputs by <c>binary_data_size</c>, all outputs
    /// binary when <paramref name="binaryOutput"/>) followed by the raw tensors.
    /// </summary>
    public static (byte[] Body, int HeaderLength) BinaryBody(Sample sample, bool binaryOutput = true)
    {
        var builder = new StringBuilder("{\"inputs\":[");
        for (var i = 0; i < sample.Inputs.Length; i++)
        {
            var input = sample.Inputs[i];
            builder.Append(i > 0 ? "," : string.Empty)
                .Append("{\"name\":\"").Append(input.Name)
                .Append("\",\"datatype\":\"").Append(input.DataType)
                .Append("\",\"shape\":[").Append(string.Join(',', input.Shape))
                .Append("],\"parameters\":{\"binary_data_size\":").Append(input.Data.Length).Append("}}");
        }

        builder.Append(']');
        if (binaryOutput)
        {
            builder.Append(",\"parameters\":{\"binary_data_output\":true}");
        }

        var header = Encoding.UTF8.GetBytes(builder.Append('}').ToString());
        var body = new byte[header.Length + sample.Inputs.Sum(static t => t.Data.Length)];
        header.CopyTo(body, 0);
        var offset = header.Length;
        foreach (var input in sample.Inputs)
        {
            input.Data.CopyTo(body, offset);
            offset += input.Data.Length;
        }

        return (body, header.Length);
    }

    /// <summary>
    /// A model repository in a new temporary directory with version 1 of each named fixture
    /// model, as symbolic links so nothing large is copied. The caller deletes it.
    /// </summary>
    public static string CreateRepository(string fixtures, IEnumerable<string> models)
    {
        var root = Directory.CreateTempSubdirectory("gateway-perf-repo-").FullName;
        foreach (var model in models)
        {
            // "<fixture>_batched": the fixture with dynamic batching (up to 16 rows, 5 ms window).
            var batched = model.EndsWith(BatchedSuffix, StringComparison.Ordinal);
            var fixture = batched ? model[..^BatchedSuffix.Length] : model;
            var source = Path.GetFullPath(Path.Combine(fixtures, fixture + ".onnx"));
            if (!File.Exists(source))
            {
                throw new FileNotFoundException($"no fixture model {source}", source);
            }

            var version = Path.Combine(root, model, "1");
            Directory.CreateDirectory(version);
            File.CreateSymbolicLink(Path.Combine(version, "model.onnx"), source);
            if (batched)
            {
                File.WriteAllText(Path.Combine(root, model, "config.json"), BatchedConfig);
            }
        }

        return root;
    }

    /// <summary>Suffix naming a fixture served with dynamic batching.</summary>
    public const string BatchedSuffix = "_batched";

    /// <summary>The batching configuration of "<c>_batched</c>" models.</summary>
    public const string BatchedConfig = """{ "max_batch_size": 16, "dynamic_batching": { "max_queue_delay_microseconds": 5000 } }""";

    private static string ProtocolType(string numpy) => numpy switch
    {
        "float32" => "FP32",
        "int32" => "INT32",
        "int64" => "INT64",
        _ => throw new NotSupportedException($"sample dtype {numpy}"),
    };

    private static void AppendValues(StringBuilder builder, SampleTensor input)
    {
        var culture = CultureInfo.InvariantCulture;
        switch (input.DataType)
        {
            case "FP32":
                var floats = MemoryMarshal.Cast<byte, float>(input.Data);
                for (var i = 0; i < floats.Length; i++)
                {
                    builder.Append(i > 0 ? "," : string.Empty).Append(floats[i].ToString("R", culture));
                }

                break;
            case "INT32":
                var ints = MemoryMarshal.Cast<byte, int>(input.Data);
                for (var i = 0; i < ints.Length; i++)
                {
                    builder.Append(i > 0 ? "," : string.Empty).Append(ints[i].ToString(culture));
                }

                break;
            case "INT64":
                var longs = MemoryMarshal.Cast<byte, long>(input.Data);
                for (var i = 0; i < longs.Length; i++)
                {
                    builder.Append(i > 0 ? "," : string.Empty).Append(longs[i].ToString(culture));
                }

                break;
            default:
                throw new NotSupportedException(input.DataType);
        }
    }
}
