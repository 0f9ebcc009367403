using Gateway.Abstractions;
using Gateway.Repository;

namespace Gateway.Tests.Repository;

/// <summary>The configuration merged into a model file's signature, on plain data: every refusal and what a merge fixes.</summary>
public sealed class SignatureMergeTests
{
    // The model file says: x FP32 [-1, -1], y FP32 [-1, 3].
    private static readonly ModelSignature s_model = new(
        [new TensorSpec("x", DataType.FP32, new TensorShape([-1, -1]))],
        [new TensorSpec("y", DataType.FP32, new TensorShape([-1, 3]))]);

    private static ModelDefinition Definition(int maxBatchSize, List<TensorConfig>? input = null, List<TensorConfig>? output = null) => new()
    {
        Name = "m",
        Backend = null!,
        ConfigPath = "/models/m/config.json",
        Config = new ModelConfig { MaxBatchSize = maxBatchSize, Input = input, Output = output },
    };

    public static TheoryData<int, string, string?, long[]?, string> Refusals => new()
    {
        { 0, "z", null, null, "input 'z' is not in the model (its inputs: x)" },
        { 0, "x", "INT64", null, "input 'x': data_type INT64 contradicts the model's FP32" },
        { 0, "x", null, [4], "input 'x': dims [4] give rank 1, but the model's shape [-1,-1] has rank 2" },
        { 4, "x", null, [4, 4], "input 'x': dims [4,4] give rank 3 with the batch dimension, but the model's shape [-1,-1] has rank 2" },
    };

    [Theory]
    [MemberData(nameof(Refusals))]
    public void Contradiction_IsRefused_NamingTheConfig(int maxBatchSize, string name, string? dataType, long[]? dims, string message)
    {
        var definition = Definition(maxBatchSize, input: [new TensorConfig { Name = name, DataType = dataType, Dims = dims }]);
        Assert.False(SignatureMerge.TryMerge(definition, s_model, out _, out var error));
        Assert.Equal($"/models/m/config.json: {message}", error);
    }

    [Fact]
    public void OutputContradiction_IsRefused()
    {
        var definition = Definition(0, output: [new TensorConfig { Name = "y", Dims = [-1, 4] }]);
        Assert.False(SignatureMerge.TryMerge(definition, s_model, out _, out var error));
        Assert.Equal("/models/m/config.json: output 'y': dims [-1,4] contradict the model's shape [-1,3]", error);
    }

    [Fact]
    public void BatchingModel_WithoutAVariableFirstDimension_IsRefused()
    {
        var model = new ModelSignature(
            [new TensorSpec("x", DataType.FP32, new TensorShape([2, 3]))],
            [new TensorSpec("y", DataType.FP32, new TensorShape([-1]))]);
        Assert.False(SignatureMerge.TryMerge(Definition(8), model, out _, out var error));
        Assert.Equal("/models/m/config.json: max_batch_size 8 needs a variable first (batch) dimension, but input 'x' has shape [2,3]", error);
    }

    [Fact]
    public void Config_FixesVariableDimensions_AndKeepsTheRest()
    {
        var definition = Definition(4, input: [new TensorConfig { Name = "x", DataType = "TYPE_FP32", Dims = [7] }]);
        Assert.True(SignatureMerge.TryMerge(definition, s_model, out var merged, out var error), error);
        Assert.Equal(new TensorShape([-1, 7]), merged.Inputs[0].Shape);
        Assert.Equal(new TensorShape([-1, 3]), merged.Outputs[0].Shape);
    }
}
