using System.Text.Json;
using Gateway.Abstractions;

namespace Gateway.Repository;

/// <summary>
/// The configuration a version is served with, completed from the model file where
/// <c>config.json</c> was silent (Triton's auto-complete), for <c>GET .../config</c>.
/// </summary>
internal static class ModelConfigView
{
    /// <param name="instanceCount">The instance count served with: the configuration's, or the one chosen at load.</param>
    public static byte[] Serialise(ModelDefinition definition, ModelSignature signature, int instanceCount)
    {
        var source = definition.Config;
        var completed = new ModelConfig
        {
            Name = definition.Name,
            Backend = definition.Backend.Name,
            Platform = definition.Backend.Platform,
            MaxBatchSize = definition.MaxBatchSize,
            Input = Tensors(signature.Inputs, definition.MaxBatchSize),
            Output = Tensors(signature.Outputs, definition.MaxBatchSize),
            InstanceCount = instanceCount,
            Device = definition.Device,
            Parameters = source.Parameters,
            DynamicBatching = source.DynamicBatching,
            VersionPolicy = source.VersionPolicy,
            DefaultModelFilename = definition.ModelFileName,
        };
        return JsonSerializer.SerializeToUtf8Bytes(completed, ModelConfigJsonContext.Default.ModelConfig);
    }

    private static List<TensorConfig> Tensors(IReadOnlyList<TensorSpec> specs, int maxBatchSize)
    {
        var result = new List<TensorConfig>(specs.Count);
        foreach (var spec in specs)
        {
            var dims = spec.Shape.ToArray();
            result.Add(new TensorConfig
            {
                Name = spec.Name,
                DataType = "TYPE_" + (spec.DataType == DataType.Bytes ? "STRING" : spec.DataType.Name()),
                Dims = maxBatchSize > 0 ? dims[1..] : dims,
            });
        }

        return result;
    }
}
