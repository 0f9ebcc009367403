using Gateway.Repository;
using Gateway.Scheduling;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.Scheduling;

/// <summary>Requests merge only when every dimension but the batch one agrees (bert's sequence length).</summary>
public sealed class ShapeCompatibilityTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly ModelVersion _bert;

    public ShapeCompatibilityTests()
    {
        _bert = TestModels.Load("bert_tiny", new SchedulingPolicy { Batching = true, MaxBatchSize = 8 }, _time);
    }

    public void Dispose() => _bert.DisposeNow();

    private WorkItem Bert(int rows, int sequence)
    {
        var ids = string.Join(",", Enumerable.Repeat("1", rows * sequence));
        var json = $$"""{"inputs":[{"name":"input_ids","datatype":"INT64","shape":[{{rows}},{{sequence}}],"data":[{{ids}}]},{"name":"attention_mask","datatype":"INT64","shape":[{{rows}},{{sequence}}],"data":[{{ids}}]}]}""";
        var item = new WorkItem(_bert.Scheduler);
        item.Initialise(TestModels.Request(_bert, json), 0, _time.GetTimestamp(), 0);
        return item;
    }

    [Fact]
    public void DifferentSequenceLengths_FormSeparateBatches()
    {
        var queue = new BatchQueue(_bert.Scheduler.Policy, _time.TimestampFrequency);
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
}
