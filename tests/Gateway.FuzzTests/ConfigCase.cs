using System.Text;
using CsCheck;
using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Protocol;
using Gateway.Repository;
using Gateway.Testing;

namespace Gateway.FuzzTests;

/// <summary>A mutated <c>config.json</c> for a model directory whose version 1 holds the identity model.</summary>
internal sealed record ConfigCase(int Seed, Mutation[] Mutations)
{
    public static readonly string[] Seeds =
    [
        """{"name":"m","backend":"onnx","max_batch_size":8,"input":[{"name":"INPUT0","data_type":"TYPE_FP32","dims":[16]}],"output":[{"name":"OUTPUT0","data_type":"TYPE_FP32","dims":[16]}],"dynamic_batching":{"preferred_batch_size":[4,8],"max_queue_delay_microseconds":100,"max_queue_size":16,"default_timeout_microseconds":1000000,"priority_levels":2,"default_priority_level":1},"instance_group":[{"count":2,"kind":"KIND_CPU"}]}""",
        """{"platform":"onnxruntime_onnx","version_policy":{"latest":{"num_versions":2}},"parameters":{"intra_op_thread_count":{"string_value":"1"},"x":1,"y":true},"default_model_filename":"model.onnx"}""",
        """{"backend":"onnx","version_policy":{"specific":{"versions":[1,3]}},"instance_count":1,"device":"cpu","access":{"roles":["supervisor"],"users":["alice"]}}""",
        """{"version_policy":{"all":{}},"input":[{"name":"INPUT0","dims":[-1,16]}],"instance_group":[{"count":1,"kind":"KIND_GPU","gpus":[0]}]}""",
        """{"backend":"onnx","max_batch_size":4,"input":[{"name":"INPUT0","data_type":"FP32"}],"output":[{"name":"OUTPUT0"}],"dynamic_batching":{}}""",
    ];

    private static readonly JNode[] s_trees = Seeds.Select(JNode.Parse).ToArray();
    private static readonly IBackend[] s_backends = [new OnnxBackend()];
    private static readonly Lazy<ModelSignature> s_identity = new(() =>
        new OnnxBackend().Load(new ModelLoadRequest { ModelName = "m", Version = 1, ModelPath = ReferenceModels.ModelFile("identity") }).Runner!.Signature);

    public static readonly Gen<ConfigCase> Gen = CsCheck.Gen.Select(CsCheck.Gen.Int[0, Seeds.Length - 1], Mutator.Some,
        static (seed, mutations) => new ConfigCase(seed, mutations));

    public byte[] Build() => Mutator.Apply(s_trees[Seed], Mutations);

    public override string ToString() => $"seed #{Seed}, mutations [{string.Join(", ", Mutations)}]: {Encoding.UTF8.GetString(Build())}";

    /// <summary>A model directory "m" with 1/model.onnx (a link to the identity fixture); the config is rewritten per case.</summary>
    private static readonly Lazy<string> s_directory = new(() =>
    {
        var root = Directory.CreateTempSubdirectory("gateway-fuzz-config-").FullName;
        var model = Path.Combine(root, "m");
        Directory.CreateDirectory(Path.Combine(model, "1"));
        File.CreateSymbolicLink(Path.Combine(model, "1", "model.onnx"), ReferenceModels.ModelFile("identity"));
        return model;
    });

    /// <summary>
    /// The property: Read returns a definition or an error naming the file, never throws; what it
    /// accepts can be served: its timeouts fit a timer, merging with the model's signature and
    /// serialising the configuration for GET .../config do not throw.
    /// </summary>
    public static string Check(byte[] config)
    {
        var directory = s_directory.Value;
        var path = Path.Combine(directory, "config.json");
        File.WriteAllBytes(path, config);
        var definition = ModelConfigReader.Read(directory, s_backends, TimeSpan.Zero, out var error);
        if (definition is null)
        {
            if (string.IsNullOrWhiteSpace(error) || !error.StartsWith(path, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"refused without an error naming the file: '{error}'");
            }

            return error[path.Length..];
        }

        var longest = TimeSpan.FromMicroseconds(InferRequest.MaxTimeoutMicroseconds);
        if (definition.Scheduling.DefaultTimeout > longest || definition.Scheduling.MaxQueueDelay > longest)
        {
            throw new InvalidOperationException($"accepted a timeout no timer can wait: default {definition.Scheduling.DefaultTimeout}, delay {definition.Scheduling.MaxQueueDelay}");
        }

        if (!SignatureMerge.TryMerge(definition, s_identity.Value, out var signature, out var mergeError))
        {
            return "merge: " + mergeError;
        }

        ModelConfigView.Serialise(definition, signature, definition.InstanceCount);
        return "accepted";
    }
}
