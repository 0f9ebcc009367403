using Microsoft.Extensions.Time.Testing;

namespace Gateway.Scheduling.Tests;

/// <summary>Requests merge only when every dimension but the batch one agrees (bert's sequence length).</summary>
public sealed class ShapeCompatibilityTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>A bert-shaped request: input_ids and attention_mask, both [rows, sequence] INT64.</summary>
    private WorkItem Bert(int rows, int sequence)
    {
        var item = new WorkItem(owner: null);
        item.Initialise(new PlainRequest([PlainRequest.Ones(rows, sequence), PlainRequest.Ones(rows, sequence)]), 0, _time.GetTimestamp(), 0);
        return item;
    }

    [Fact]
    public void DifferentSequenceLengths_FormSeparateBatches()
    {
        var queue = new BatchQueue(new SchedulingPolicy { Batching = true, MaxBatchSize = 8 }, _time.TimestampFrequency);
        var short1 = Bert(1, 8);
        var long1 = Bert(1, 16);
        var short2 = Bert(2, 8);
        queue.Enqueue(short1);
        queue.Enqueue(long1);
        queue.Enqueue(short2);
        Assert.True(BatchQueue.Compatible(short1, short2));
        Assert.False(BatchQueue.Compatible(short1, long1));

        var batch = new List<WorkItem>();
        queue.Decide(_time.GetTimestamp(), batch, [], out _);
        Assert.Equal([short1, short2], batch);
        batch.Clear();
        queue.Decide(_time.GetTimestamp(), batch, [], out _);
        Assert.Equal([long1], batch);
    }

    [Fact]
    public void OnlyTheSecondInputDiffers_NotCompatible()
    {
        var a = new WorkItem(owner: null);
        a.Initialise(new PlainRequest([PlainRequest.Ones(1, 8), PlainRequest.Ones(1, 8)]), 0, 0, 0);
        var b = new WorkItem(owner: null);
        b.Initialise(new PlainRequest([PlainRequest.Ones(3, 8), PlainRequest.Ones(3, 9)]), 0, 0, 0);
        Assert.False(BatchQueue.Compatible(a, b));
    }
}
