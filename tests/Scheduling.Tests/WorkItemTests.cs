using Gateway.Abstractions;

namespace Gateway.Scheduling.Tests;

/// <summary>What a work item takes from its request at submission.</summary>
public sealed class WorkItemTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(0)]
    public void Rows_AreTheFirstDimensionOfTheFirstInput(int rows)
    {
        var item = new WorkItem(owner: null);
        item.Initialise(new PlainRequest([PlainRequest.Floats(rows, 4), PlainRequest.Ones(7, 2)]), 0, 0, 0);
        Assert.Equal(rows, item.Rows);
    }

    [Fact]
    public void ScalarFirstInput_CountsAsOneRow()
    {
        var item = new WorkItem(owner: null);
        item.Initialise(new PlainRequest([new Tensor(DataType.FP32, new TensorShape([]), new byte[4])]), 0, 0, 0);
        Assert.Equal(1, item.Rows);
    }

    [Fact]
    public void Initialise_CopiesInputsAndOutputs_AndReset_ForgetsThem()
    {
        var first = PlainRequest.Floats(2, 3);
        var request = new PlainRequest([first, PlainRequest.Ones(2, 1), PlainRequest.Ones(2, 5)], outputs: [2, 0, 1, 4, 3], priority: 2, timeoutMicroseconds: 9);
        var item = new WorkItem(owner: null);
        item.Initialise(request, level: 1, enqueuedAt: 10, deadline: 20);
        Assert.Same(request, item.Request);
        Assert.Equal(3, item.Inputs.Length);
        Assert.Equal(first.Shape, item.Inputs[0].Shape);
        Assert.Equal(new TensorShape([2, 5]), item.Inputs[2].Shape);
        Assert.Equal([2, 0, 1, 4, 3], item.WantedOutputs.ToArray());
        Assert.Equal(1, item.Level);
        Assert.Equal(10, item.EnqueuedAt);
        Assert.Equal(20, item.Deadline);

        item.Reset();
        Assert.Equal(0, item.Inputs.Length);
        Assert.Equal(0, item.WantedOutputs.Length);

        // Reused for a smaller request: only its own inputs and outputs show.
        item.Initialise(new PlainRequest([PlainRequest.Floats(1, 3)], outputs: [1]), 0, 0, 0);
        Assert.Equal(1, item.Inputs.Length);
        Assert.Equal([1], item.WantedOutputs.ToArray());
    }
}
