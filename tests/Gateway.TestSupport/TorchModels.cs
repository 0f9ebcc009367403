using System.Text;

namespace Gateway.Testing;

/// <summary>One declared tensor of a reference model: name, protocol datatype, full dims.</summary>
public sealed record TensorDeclaration(string Name, string DataType, long[] Dims);

/// <summary>
/// The inputs and outputs of the reference models as a TorchScript model's <c>config.json</c>
/// must declare them (a <c>.pt</c> file names none), and repositories built from the fixtures.
/// </summary>
public static class TorchModels
{
    public static readonly IReadOnlyDictionary<string, (TensorDeclaration[] Inputs, TensorDeclaration[] Outputs)> Declarations =
        new Dictionary<string, (TensorDeclaration[], TensorDeclaration[])>
        {
            ["identity"] = ([new("INPUT0", "FP32", [-1, 16])], [new("OUTPUT0", "FP32", [-1, 16])]),
            ["add_sub"] = (
                [new("INPUT0", "INT32", [-1, 16]), new("INPUT1", "INT32", [-1, 16])],
                [new("OUTPUT0", "INT32", [-1, 16]), new("OUTPUT1", "INT32", [-1, 16])]),
            ["mlp"] = ([new("input", "FP32", [-1, 784])], [new("logits", "FP32", [-1, 10])]),
            ["mobilenet_v2"] = ([new("input", "FP32", [-1, 3, 224, 224])], [new("logits", "FP32", [-1, 1000])]),
            ["bert_tiny"] = (
                [new("input_ids", "INT64", [-1, -1]), new("attention_mask", "INT64", [-1, -1])],
                [new("last_hidden_state", "FP32", [-1, -1, 128])]),
        };

    /// <summary>A <c>config.json</c> serving the model with <paramref name="backend"/>, declaring its tensors.</summary>
    public static string ConfigJson(string model, string backend = "torch", string device = "cpu")
    {
        var (inputs, outputs) = Declarations[model];
        var builder = new StringBuilder();
        builder.Append("{\n  \"name\": \"").Append(model).Append("\",\n  \"backend\": \"").Append(backend)
            .Append("\",\n  \"device\": \"").Append(device).Append("\",\n  \"input\": [");
        Append(builder, inputs);
        builder.Append("],\n  \"output\": [");
        Append(builder, outputs);
        return builder.Append("]\n}\n").ToString();
    }

    /// <summary>
    /// A repository in a new temporary directory with version 1 of each model holding both the
    /// <c>.onnx</c> and the <c>.pt</c> file (symbolic links) and a config naming <paramref name="backend"/>.
    /// </summary>
    public static string CreateRepository(string backend, params string[] models)
    {
        var root = Directory.CreateTempSubdirectory("gateway-torch-repo-").FullName;
        foreach (var model in models)
        {
            WriteModel(root, model, backend);
        }

        return root;
    }

    /// <summary>Adds (or rewrites) one model of a repository made by <see cref="CreateRepository"/>.</summary>
    public static void WriteModel(string root, string model, string backend, string? name = null)
    {
        name ??= model;
        var version = Path.Combine(root, name, "1");
        Directory.CreateDirectory(version);
        foreach (var extension in new[] { "onnx", "pt" })
        {
            var link = Path.Combine(version, "model." + extension);
            if (!File.Exists(link))
            {
                File.CreateSymbolicLink(link, ReferenceModels.ModelFile(model, extension));
            }
        }

        File.WriteAllText(Path.Combine(root, name, "config.json"), ConfigJson(model, backend).Replace($"\"name\": \"{model}\"", $"\"name\": \"{name}\""));
    }

    private static void Append(StringBuilder builder, TensorDeclaration[] tensors)
    {
        for (var i = 0; i < tensors.Length; i++)
        {
            var t = tensors[i];
            builder.Append(i > 0 ? ", " : string.Empty)
                .Append("{ \"name\": \"").Append(t.Name).Append("\", \"data_type\": \"TYPE_").Append(t.DataType)
                .Append("\", \"dims\": [").Append(string.Join(", ", t.Dims)).Append("] }");
        }
    }
}
