using System.Runtime.InteropServices;
using Gateway.Abstractions;

namespace Gateway.Scheduling.Tests;

/// <summary>
/// Merging requests into one run and handing each its own rows back, over an echo runner on
/// plain arrays: what the runner saw, and what each request reads.
/// </summary>
public sealed class BatchExecutorTests
{
    private static WorkItem Item(int rows, float first, int[] outputs)
    {
        var item = new WorkItem(owner: null);
        item.Initialise(new PlainRequest([PlainRequest.Floats(rows, 2, first)], outputs), 0, 0, 0);
        return item;
    }

    private static float[] Floats(RunOutputs outputs, int index) => MemoryMarshal.Cast<byte, float>(outputs.GetData(index)).ToArray();

    [Fact]
    public void Merged_RunsOnceWithAllRowsAndTheUnionOfOutputs_EachGetsItsOwnRowsAndOutputs()
    {
        var runner = new EchoRunner();
        var executor = new BatchExecutor(runner);
        var a = Item(1, 0, [1]);
        var b = Item(2, 100, [0, 1]);
        var c = Item(0, 200, [0]);

        Assert.Equal(3, executor.Execute([a, b, c]));

        Assert.Equal(1, runner.Runs);
        Assert.Equal(new TensorShape([3, 2]), runner.LastShape);
        Assert.Equal([0, 1], runner.LastOutputs);

        Assert.Equal(1, a.Outputs!.Count);
        Assert.Equal(new TensorShape([1, 2]), a.Outputs.GetShape(0));
        Assert.Equal([0f + 1000, 1 + 1000], Floats(a.Outputs, 0));
        Assert.Equal(2, b.Outputs!.Count);
        Assert.Equal([100f, 101, 102, 103], Floats(b.Outputs, 0));
        Assert.Equal([1100f, 1101, 1102, 1103], Floats(b.Outputs, 1));
        Assert.Equal(new TensorShape([0, 2]), c.Outputs!.GetShape(0));
        Assert.Empty(Floats(c.Outputs, 0));

        // The batch's outputs are freed with the last request's release, not before.
        a.Outputs.Dispose();
        b.Outputs.Dispose();
        Assert.Equal(0, runner.Disposed);
        c.Outputs.Dispose();
        Assert.Equal(1, runner.Disposed);
    }

    [Fact]
    public void One_RunsOnItsOwnTensors()
    {
        var runner = new EchoRunner();
        var executor = new BatchExecutor(runner);
        var item = Item(2, 5, [1]);
        Assert.Equal(2, executor.Execute([item]));
        Assert.Equal([1], runner.LastOutputs);
        Assert.Equal([1005f, 1006, 1007, 1008], Floats(item.Outputs!, 0));
    }

    [Fact]
    public void OutputWithoutTheBatchRows_FailsEveryRequest()
    {
        var runner = new EchoRunner { WrongRows = true };
        var executor = new BatchExecutor(runner);
        var a = Item(1, 0, [0]);
        var b = Item(1, 0, [0]);
        executor.Execute([a, b]);
        Assert.Equal(BackendErrorKind.ExecutionFailed, a.Error!.Value.Kind);
        Assert.Contains("cannot be batched along its first dimension", b.Error!.Value.Message);
        Assert.Equal(1, runner.Disposed);
    }
}
