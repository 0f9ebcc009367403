using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Gateway.Testing;

/// <summary>One tensor of a reference sample: numpy dtype name, shape and raw little-endian bytes.</summary>
public sealed record SampleTensor(string NumpyType, long[] Shape, byte[] Data)
{
    /// <summary>The protocol datatype name.</summary>
    public string DataType => NumpyType switch
    {
        "float32" => "FP32",
        "float64" => "FP64",
        "int32" => "INT32",
        "int64" => "INT64",
        _ => throw new NotSupportedException(NumpyType),
    };

    /// <summary>The elements as doubles, for comparisons and JSON.</summary>
    public double[] Values() => NumpyType switch
    {
        "float32" => Array.ConvertAll(MemoryMarshal.Cast<byte, float>(Data).ToArray(), v => (double)v),
        "float64" => MemoryMarshal.Cast<byte, double>(Data).ToArray(),
        "int32" => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(Data).ToArray(), v => (double)v),
        "int64" => Array.ConvertAll(MemoryMarshal.Cast<byte, long>(Data).ToArray(), v => (double)v),
        _ => throw new NotSupportedException(NumpyType),
    };

    /// <summary>The elements as JSON number literals (exact for integers, round-trip for floats).</summary>
    public string JsonData()
    {
        var parts = NumpyType switch
        {
            "float32" => Array.ConvertAll(MemoryMarshal.Cast<byte, float>(Data).ToArray(), v => v.ToString("R", CultureInfo.InvariantCulture)),
            "float64" => Array.ConvertAll(MemoryMarshal.Cast<byte, double>(Data).ToArray(), v => v.ToString("R", CultureInfo.InvariantCulture)),
            "int32" => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(Data).ToArray(), v => v.ToString(CultureInfo.InvariantCulture)),
            "int64" => Array.ConvertAll(MemoryMarshal.Cast<byte, long>(Data).ToArray(), v => v.ToString(CultureInfo.InvariantCulture)),
            _ => throw new NotSupportedException(NumpyType),
        };
        return "[" + string.Join(",", parts) + "]";
    }
}

/// <summary>A reference sample: inputs in the model's order and the first output.</summary>
public sealed record Sample(string Model, int Index, string[] InputNames, string OutputName, SampleTensor[] Inputs, SampleTensor Output)
{
    public override string ToString() => $"{Model}.s{Index}";
}

/// <summary>
/// The reference models and samples committed under <c>tests/fixtures/models</c> (copied from
/// the shared material, so a fresh clone tests without it).
/// </summary>
public static class ReferenceModels
{
    /// <summary>Absolute tolerance that the fixtures' README calls safe on CPU.</summary>
    public const double Tolerance = 1e-4;

    public static readonly string[] Names = ["identity", "add_sub", "mlp", "mobilenet_v2", "bert_tiny"];

    private static readonly Dictionary<string, (string[] Inputs, string Output)> s_io = new()
    {
        ["identity"] = (["INPUT0"], "OUTPUT0"),
        ["add_sub"] = (["INPUT0", "INPUT1"], "OUTPUT0"),
        ["mlp"] = (["input"], "logits"),
        ["mobilenet_v2"] = (["input"], "logits"),
        ["bert_tiny"] = (["input_ids", "attention_mask"], "last_hidden_state"),
    };

    private static readonly Lazy<string> s_root = new(FindRoot);

    /// <summary>The repository's root directory.</summary>
    public static string RepositoryRoot => s_root.Value;

    /// <summary><c>tests/fixtures/models</c>.</summary>
    public static string FixturesDirectory => Path.Combine(RepositoryRoot, "tests", "fixtures", "models");

    /// <summary>Path of a model file in the fixtures, such as <c>mlp.onnx</c>.</summary>
    public static string ModelFile(string model, string extension = "onnx") => Path.Combine(FixturesDirectory, $"{model}.{extension}");

    /// <summary>Every (model, sample) pair for theories.</summary>
    public static IEnumerable<object[]> AllSamples()
    {
        foreach (var name in Names)
        {
            for (var k = 0; k < 4; k++)
            {
                yield return [name, k];
            }
        }
    }

    public static Sample Load(string model, int index)
    {
        var (inputs, output) = s_io[model];
        var tensors = new SampleTensor[inputs.Length];
        for (var i = 0; i < inputs.Length; i++)
        {
            tensors[i] = ReadTensor($"{model}.s{index}.in{i}");
        }

        return new Sample(model, index, inputs, output, tensors, ReadTensor($"{model}.s{index}.out"));
    }

    /// <summary>
    /// Creates a model repository in a new temporary directory with version 1 of each named
    /// fixture model (symbolic links, so nothing large is copied).
    /// </summary>
    public static string CreateRepository(params string[] models)
    {
        var root = Directory.CreateTempSubdirectory("gateway-repo-").FullName;
        foreach (var model in models)
        {
            var versionDirectory = Path.Combine(root, model, "1");
            Directory.CreateDirectory(versionDirectory);
            File.CreateSymbolicLink(Path.Combine(versionDirectory, "model.onnx"), ModelFile(model));
        }

        return root;
    }

    /// <summary>Largest absolute difference between two tensors' elements.</summary>
    public static double MaxAbsDiff(double[] expected, double[] actual)
    {
        if (expected.Length != actual.Length)
        {
            throw new ArgumentException($"the tensors differ in length: expected {expected.Length}, got {actual.Length}", nameof(actual));
        }

        var max = 0.0;
        for (var i = 0; i < expected.Length; i++)
        {
            max = Math.Max(max, Math.Abs(expected[i] - actual[i]));
        }

        return max;
    }

    /// <summary>Decodes raw little-endian elements of a protocol datatype as doubles.</summary>
    public static double[] Values(string datatype, ReadOnlySpan<byte> data) => datatype switch
    {
        "FP32" => Array.ConvertAll(MemoryMarshal.Cast<byte, float>(data).ToArray(), v => (double)v),
        "FP64" => MemoryMarshal.Cast<byte, double>(data).ToArray(),
        "INT32" => Array.ConvertAll(MemoryMarshal.Cast<byte, int>(data).ToArray(), v => (double)v),
        "INT64" => Array.ConvertAll(MemoryMarshal.Cast<byte, long>(data).ToArray(), v => (double)v),
        _ => throw new NotSupportedException(datatype),
    };

    /// <summary>Reads raw little-endian float32 values.</summary>
    public static double[] Float32Values(ReadOnlySpan<byte> data)
    {
        var result = new double[data.Length / 4];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(i * 4)..]);
        }

        return result;
    }

    private static SampleTensor ReadTensor(string stem)
    {
        var directory = FixturesDirectory;
        var type = File.ReadAllText(Path.Combine(directory, stem + ".dtype")).Trim();
        var shape = Array.ConvertAll(File.ReadAllText(Path.Combine(directory, stem + ".shape")).Trim().Split(','), s => long.Parse(s, CultureInfo.InvariantCulture));
        var data = File.ReadAllBytes(Path.Combine(directory, stem + ".bin"));
        return new SampleTensor(type, shape, data);
    }

    private static string FindRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Gateway.sln")))
            {
                return directory.FullName;
            }

            directory = directory.Parent;
        }

        throw new InvalidOperationException("cannot find the repository root (Gateway.sln) above " + AppContext.BaseDirectory);
    }
}
