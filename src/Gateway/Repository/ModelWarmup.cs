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

        var outputs = signature.AllOutputs();

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

    /// <summary>Zero-filled inputs of <paramref name="batch"/> rows when the model batches (see <see cref="ModelSignature.ZeroInputs"/>).</summary>
    public static Tensor[] Inputs(ModelSignature signature, ModelDefinition definition, long batch) =>
        signature.ZeroInputs(definition.MaxBatchSize > 0 ? batch : 1);
}
