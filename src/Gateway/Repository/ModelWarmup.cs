using Gateway.Abstractions;

namespace Gateway.Repository;

/// <summary>
/// Runs a freshly loaded model over the shapes its configuration names before it is published,
/// so the first real request does not pay for lazy initialisation and a model that cannot run
/// never becomes ready. Batch sizes: 1, each preferred size and the maximum; other variable
/// dimensions: 1; data: zeros (empty strings for BYTES).
/// </summary>
internal static class ModelWarmup
{
    public static string? Run(IModelRunner runner, ModelSignature signature, ModelDefinition definition)
    {
        var batchSizes = new SortedSet<long> { 1 };
        if (definition.MaxBatchSize > 0)
        {
            batchSizes.Add(definition.MaxBatchSize);
            foreach (var size in definition.Scheduling.PreferredBatchSizes)
            {
                batchSizes.Add(size);
            }
        }

        var outputs = new int[signature.Outputs.Count];
        for (var i = 0; i < outputs.Length; i++)
        {
            outputs[i] = i;
        }

        foreach (var batch in batchSizes)
        {
            var tensors = Inputs(signature, definition, batch);
            var result = runner.Run(tensors, outputs);
            if (result.Error is { } error)
            {
                return $"warm-up at batch size {batch} failed: {error.Message}";
            }

            result.Outputs!.Dispose();
        }

        return null;
    }

    /// <summary>
    /// Zero-filled inputs of <paramref name="batch"/> rows (when the model batches): every other
    /// variable dimension 1, BYTES as empty strings.
    /// </summary>
    public static Tensor[] Inputs(ModelSignature signature, ModelDefinition definition, long batch)
    {
        var tensors = new Tensor[signature.Inputs.Count];
        for (var i = 0; i < tensors.Length; i++)
        {
            var spec = signature.Inputs[i];
            var shape = default(TensorShape);
            for (var d = 0; d < spec.Shape.Rank; d++)
            {
                var dim = spec.Shape[d];
                shape.TryAdd(dim >= 0 ? dim : d == 0 && definition.MaxBatchSize > 0 ? batch : 1);
            }

            shape.TryGetElementCount(int.MaxValue, out var elements);
            var size = spec.DataType == DataType.Bytes ? 4 * elements : elements * spec.DataType.ElementSize();
            tensors[i] = new Tensor(spec.DataType, shape, new byte[size]);
        }

        return tensors;
    }
}
