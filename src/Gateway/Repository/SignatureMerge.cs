using System.Globalization;
using Gateway.Abstractions;

namespace Gateway.Repository;

/// <summary>
/// Combines a model file's signature with what its configuration declares: the configuration may
/// name a datatype or fix a variable dimension, but may not contradict the model.
/// </summary>
internal static class SignatureMerge
{
    /// <summary>
    /// The signature served for <paramref name="definition"/>: <paramref name="model"/>'s, with
    /// the configuration's datatypes and fixed dimensions applied. Fails, with an error that names
    /// the config and the tensor, when they contradict or a batching model has no batch dimension.
    /// </summary>
    public static bool TryMerge(ModelDefinition definition, ModelSignature model, out ModelSignature effective, out string error)
    {
        effective = model;
        var inputs = new TensorSpec[model.Inputs.Count];
        var outputs = new TensorSpec[model.Outputs.Count];
        var maxBatchSize = definition.MaxBatchSize;
        if (!TryMerge("input", model.Inputs, definition.Config.Input, maxBatchSize, inputs, out var issue)
            || !TryMerge("output", model.Outputs, definition.Config.Output, maxBatchSize, outputs, out issue))
        {
            // config.pbtxt's line and column of the tensor's field, when the config is one.
            error = $"{definition.Source}: {definition.Locations?.Prefix(issue.Field)}{issue.Message}";
            return false;
        }

        error = string.Empty;
        effective = new ModelSignature(inputs, outputs);
        return true;
    }

    private static bool TryMerge(string what, IReadOnlyList<TensorSpec> model, List<TensorConfig>? configured, int maxBatchSize, TensorSpec[] merged, out ConfigIssue error)
    {
        for (var i = 0; i < model.Count; i++)
        {
            merged[i] = model[i];
        }

        if (configured is not null)
        {
            for (var c = 0; c < configured.Count; c++)
            {
                var tensor = configured[c];
                var field = string.Create(CultureInfo.InvariantCulture, $"{what}[{c}]");
                var index = -1;
                for (var i = 0; i < model.Count; i++)
                {
                    if (model[i].Name == tensor.Name)
                    {
                        index = i;
                        break;
                    }
                }

                if (index < 0)
                {
                    error = new(field + ".name", $"{what} '{tensor.Name}' is not in the model (its {what}s: {Names(model)})");
                    return false;
                }

                var spec = model[index];
                if (tensor.DataType is not null)
                {
                    // The name was checked in Read; an unparsable one cannot reach here.
                    if (!DataTypes.TryParse(tensor.DataType, out var type) || type != spec.DataType)
                    {
                        error = new(field + ".data_type", $"{what} '{tensor.Name}': data_type {tensor.DataType} contradicts the model's {spec.DataType.Name()}");
                        return false;
                    }
                }

                if (tensor.Dims is not null)
                {
                    var full = default(TensorShape);
                    if (maxBatchSize > 0)
                    {
                        full.TryAdd(-1);
                    }

                    foreach (var d in tensor.Dims)
                    {
                        full.TryAdd(d);
                    }

                    if (full.Rank != spec.Shape.Rank)
                    {
                        error = new(field + ".dims", $"{what} '{tensor.Name}': dims {DimsText(tensor.Dims)} give rank {full.Rank}" +
                            (maxBatchSize > 0 ? " with the batch dimension" : string.Empty) +
                            $", but the model's shape {spec.Shape} has rank {spec.Shape.Rank}");
                        return false;
                    }

                    for (var d = 0; d < full.Rank; d++)
                    {
                        if (spec.Shape[d] >= 0 && full[d] != spec.Shape[d])
                        {
                            error = new(field + ".dims", $"{what} '{tensor.Name}': dims {DimsText(tensor.Dims)} contradict the model's shape {spec.Shape}");
                            return false;
                        }
                    }

                    merged[index] = new TensorSpec(spec.Name, spec.DataType, full);
                }
            }
        }

        if (maxBatchSize > 0)
        {
            foreach (var spec in merged)
            {
                if (spec.Shape.Rank == 0 || spec.Shape[0] >= 0)
                {
                    error = new("max_batch_size", $"max_batch_size {maxBatchSize} needs a variable first (batch) dimension, but {what} '{spec.Name}' has shape {spec.Shape}");
                    return false;
                }
            }
        }

        error = default;
        return true;
    }

    private static string Names(IReadOnlyList<TensorSpec> specs)
    {
        var names = new string[specs.Count];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = specs[i].Name;
        }

        return string.Join(", ", names);
    }

    private static string DimsText(long[] dims) => "[" + string.Join(",", dims) + "]";
}
