using System.Runtime.InteropServices;
using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Repository;
using Gateway.Scheduling;
using Gateway.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.Scheduling;

/// <summary>
/// The scheduler with its real execution threads over real ONNX Runtime models. Batch windows and
/// deadlines run on a fake clock that only the test advances, so a batch forms exactly when the
/// test says.
/// </summary>
public sealed class ModelSchedulerTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new();
    private readonly List<ModelVersion> _models = [];

    public void Dispose()
    {
        foreach (var model in _models)
        {
            model.DisposeNow();
        }
    }

    private ModelVersion Load(string fixture, SchedulingPolicy policy)
    {
        var model = TestModels.Load(fixture, policy, _time);
        _models.Add(model);
        return model;
    }

    private static SchedulingPolicy Batching(int max, int[]? preferred = null, TimeSpan? delay = null, int queue = 64, TimeSpan? timeout = null) => new()
    {
        Batching = true,
        MaxBatchSize = max,
        PreferredBatchSizes = preferred ?? [],
        MaxQueueDelay = delay ?? TimeSpan.FromSeconds(1),
        MaxQueueSize = queue,
        DefaultTimeout = timeout ?? TimeSpan.Zero,
    };

    private static float[] Floats(RunOutputs outputs, int index) => MemoryMarshal.Cast<byte, float>(outputs.GetData(index)).ToArray();

    [Fact]
    public async Task PreferredSize_FormsOneBatch_WithoutTheClockMoving_EachCallerGetsItsRows()
    {
        var model = Load("identity", Batching(8, [4]));
        var items = Enumerable.Range(0, 4).Select(i => model.Scheduler.Submit(TestModels.Identity(model, 1, first: i * 100), default)).ToArray();
        foreach (var (item, i) in items.Select((item, i) => (item, i)))
        {
            Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
            Assert.Equal(4, item.BatchSize);
            Assert.Equal(new TensorShape([1, 16]), item.Outputs!.GetShape(0));
            Assert.Equal(Enumerable.Range(0, 16).Select(v => (float)(i * 100 + v)), Floats(item.Outputs, 0));
            await model.Scheduler.ReleaseAsync(item);
        }

        Assert.Equal(1, model.Scheduler.Stats.Executions);
        Assert.Equal(1, model.Scheduler.Stats.ReadExecutions().BatchSizes[4]);
    }

    [Fact]
    public async Task Window_DispatchesWhatIsQueued_WhenTheClockPassesTheDelay()
    {
        var model = Load("identity", Batching(8, [4], delay: TimeSpan.FromMilliseconds(2)));
        var items = Enumerable.Range(0, 3).Select(i => model.Scheduler.Submit(TestModels.Identity(model, 1, first: i), default)).ToArray();
        Assert.All(items, item => Assert.False(item.Completion.IsCompleted));
        _time.Advance(TimeSpan.FromMilliseconds(2));
        foreach (var item in items)
        {
            Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
            Assert.Equal(3, item.BatchSize);
            await model.Scheduler.ReleaseAsync(item);
        }

        Assert.Equal(1, model.Scheduler.Stats.ReadExecutions().BatchSizes[3]);
    }

    [Fact]
    public async Task Deadline_PassingInTheQueue_DropsTheRequestUnexecuted()
    {
        var model = Load("identity", Batching(8, [4], timeout: TimeSpan.FromMilliseconds(1)));
        var request = TestModels.Identity(model, 1);
        var item = model.Scheduler.Submit(request, default);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(OutcomeStatus.DeadlineExceeded, await item.Completion.AsTask().WaitAsync(s_wait));
        await model.Scheduler.ReleaseAsync(item);
        Assert.Equal(1, model.Scheduler.Stats.DeadlineExceeded);
        Assert.Equal(0, model.Scheduler.Stats.Executions);
        Assert.Equal(0, model.Scheduler.QueueDepth);
    }

    [Fact]
    public async Task RequestTimeoutParameter_OverridesTheDefault()
    {
        var model = Load("identity", Batching(8, [4], timeout: TimeSpan.FromSeconds(10)));
        var request = TestModels.Identity(model, 1);
        request.TimeoutMicroseconds = 300;
        var item = model.Scheduler.Submit(request, default);
        _time.Advance(TimeSpan.FromMicroseconds(299));
        Assert.False(item.Completion.IsCompleted);
        _time.Advance(TimeSpan.FromMicroseconds(1));
        Assert.Equal(OutcomeStatus.DeadlineExceeded, await item.Completion.AsTask().WaitAsync(s_wait));
        await model.Scheduler.ReleaseAsync(item);
    }

    [Fact]
    public async Task RequestTimeoutParameter_IsIgnored_WhenTheQueuePolicyAllowsNoOverride()
    {
        // Triton's allow_timeout_override: false: the model's default deadline holds whatever the request asks.
        var policy = Batching(8, [4], timeout: TimeSpan.FromMilliseconds(2));
        var model = Load("identity", new SchedulingPolicy
        {
            Batching = true,
            MaxBatchSize = policy.MaxBatchSize,
            PreferredBatchSizes = policy.PreferredBatchSizes,
            MaxQueueDelay = policy.MaxQueueDelay,
            MaxQueueSize = policy.MaxQueueSize,
            DefaultTimeout = policy.DefaultTimeout,
            AllowTimeoutOverride = false,
        });
        var request = TestModels.Identity(model, 1);
        request.TimeoutMicroseconds = 300;
        var item = model.Scheduler.Submit(request, default);
        _time.Advance(TimeSpan.FromMicroseconds(300));
        Assert.False(item.Completion.IsCompleted);
        _time.Advance(TimeSpan.FromMicroseconds(1700));
        Assert.Equal(OutcomeStatus.DeadlineExceeded, await item.Completion.AsTask().WaitAsync(s_wait));
        await model.Scheduler.ReleaseAsync(item);
    }

    [Fact]
    public async Task Cancellation_RemovesTheQueuedRequest_NeverExecuted()
    {
        var model = Load("identity", Batching(8, [4]));
        using var cancellation = new CancellationTokenSource();
        var item = model.Scheduler.Submit(TestModels.Identity(model, 1), cancellation.Token);
        Assert.Equal(1, model.Scheduler.QueueDepth);
        await cancellation.CancelAsync();
        Assert.Equal(OutcomeStatus.Cancelled, await item.Completion.AsTask().WaitAsync(s_wait));
        await model.Scheduler.ReleaseAsync(item);
        Assert.Equal(0, model.Scheduler.QueueDepth);
        Assert.Equal(1, model.Scheduler.Stats.Cancelled);

        // Time passing later executes nothing: the request is gone.
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, model.Scheduler.Stats.Executions);
    }

    [Fact]
    public async Task FullQueue_RefusesAtOnce()
    {
        var model = Load("identity", Batching(8, [8], queue: 2));
        var queued = new[] { model.Scheduler.Submit(TestModels.Identity(model, 1), default), model.Scheduler.Submit(TestModels.Identity(model, 1), default) };
        var refused = model.Scheduler.Submit(TestModels.Identity(model, 1), default);
        Assert.True(refused.Completion.IsCompleted);
        Assert.Equal(OutcomeStatus.QueueFull, await refused.Completion);
        await model.Scheduler.ReleaseAsync(refused);
        Assert.Equal(1, model.Scheduler.Stats.QueueFull);
        Assert.InRange(model.Scheduler.RetryAfterSeconds(), 1, 60);

        _time.Advance(TimeSpan.FromSeconds(1));
        foreach (var item in queued)
        {
            Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
            await model.Scheduler.ReleaseAsync(item);
        }
    }

    [Fact]
    public async Task MixedRowsAndOutputSelections_EachCallerGetsExactlyItsRowsAndOutputs()
    {
        var model = Load("add_sub", Batching(8, [6]));
        static string Rows(int rows, int start) => string.Join(",", Enumerable.Range(start, rows * 16));
        string Body(int rows, int start, string outputs) =>
            $$"""{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[{{rows}},16],"data":[{{Rows(rows, start)}}]},{"name":"INPUT1","datatype":"INT32","shape":[{{rows}},16],"data":[{{Rows(rows, 1)}}]}]{{outputs}}}""";
        var requests = new[]
        {
            TestModels.Request(model, Body(1, 1000, ""","outputs":[{"name":"OUTPUT1"}]""")),
            TestModels.Request(model, Body(2, 2000, string.Empty)),
            TestModels.Request(model, Body(3, 3000, ""","outputs":[{"name":"OUTPUT0"}]""")),
        };
        var items = requests.Select(r => model.Scheduler.Submit(r, default)).ToArray();
        foreach (var item in items)
        {
            Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
            Assert.Equal(6, item.BatchSize);
        }

        int[] Ints(RunOutputs outputs, int index) => MemoryMarshal.Cast<byte, int>(outputs.GetData(index)).ToArray();
        Assert.Equal(1, items[0].Outputs!.Count);
        Assert.Equal(Enumerable.Repeat(999, 16), Ints(items[0].Outputs!, 0));
        Assert.Equal(2, items[1].Outputs!.Count);
        Assert.Equal(new TensorShape([2, 16]), items[1].Outputs!.GetShape(0));
        Assert.Equal(Enumerable.Range(0, 32).Select(i => 2000 + i + 1 + i), Ints(items[1].Outputs!, 0));
        Assert.Equal(Enumerable.Repeat(1999, 32), Ints(items[1].Outputs!, 1));
        Assert.Equal(1, items[2].Outputs!.Count);
        Assert.Equal(new TensorShape([3, 16]), items[2].Outputs!.GetShape(0));
        Assert.Equal(Enumerable.Range(0, 48).Select(i => 3000 + i + 1 + i), Ints(items[2].Outputs!, 0));
        foreach (var item in items)
        {
            await model.Scheduler.ReleaseAsync(item);
        }
    }

    [Fact]
    public async Task ZeroRowRequests_BatchWithOthers_AndGetEmptyOutputs()
    {
        var model = Load("identity", Batching(8, [3]));
        var empty = TestModels.Request(model, """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[0,16],"data":[]}]}""");
        var items = new[]
        {
            model.Scheduler.Submit(empty, default),
            model.Scheduler.Submit(TestModels.Identity(model, 1, 5), default),
            model.Scheduler.Submit(TestModels.Identity(model, 2, 9), default),
        };
        foreach (var item in items)
        {
            Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
        }

        Assert.Equal(new TensorShape([0, 16]), items[0].Outputs!.GetShape(0));
        Assert.Equal(0, items[0].Outputs!.GetData(0).Length);
        Assert.Equal(Enumerable.Range(9, 32).Select(v => (float)v), Floats(items[2].Outputs!, 0));
        foreach (var item in items)
        {
            await model.Scheduler.ReleaseAsync(item);
        }
    }

    [Fact]
    public async Task FailingBatch_FailsOnlyItsRequests_AndTheThreadKeepsServing()
    {
        var inner = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "identity", Version = 1, ModelPath = ReferenceModels.ModelFile("identity") }).Runner!;
        var faulty = new FaultInjectingRunner(inner);
        var policy = Batching(4, [2]);
        var definition = new ModelDefinition { Name = "identity", Backend = new OnnxBackend(), Config = new ModelConfig { MaxBatchSize = 4 }, Scheduling = policy };
        var model = new ModelVersion(definition, 1, faulty, inner.Signature, new SchedulerFactory(_time, NullLogger.Instance));
        _models.Add(model);

        faulty.ThrowNext = true;
        var failed = new[] { model.Scheduler.Submit(TestModels.Identity(model, 1), default), model.Scheduler.Submit(TestModels.Identity(model, 1), default) };
        foreach (var item in failed)
        {
            Assert.Equal(OutcomeStatus.Failed, await item.Completion.AsTask().WaitAsync(s_wait));
            Assert.Equal(BackendErrorKind.ExecutionFailed, item.Error!.Value.Kind);
            await model.Scheduler.ReleaseAsync(item);
        }

        var next = new[] { model.Scheduler.Submit(TestModels.Identity(model, 1, 7), default), model.Scheduler.Submit(TestModels.Identity(model, 1, 9), default) };
        foreach (var item in next)
        {
            Assert.Equal(OutcomeStatus.Succeeded, await item.Completion.AsTask().WaitAsync(s_wait));
            await model.Scheduler.ReleaseAsync(item);
        }

        Assert.All(faulty.Threads, name => Assert.Equal("identity/1#0", name));
        Assert.Equal(2, model.Scheduler.Stats.Failed);
        Assert.Equal(2, model.Scheduler.Stats.Succeeded);
    }

    /// <summary>Fault injection: throws once on demand (a misbehaving backend), else runs the real model and records the thread.</summary>
    private sealed class FaultInjectingRunner(IModelRunner inner) : IModelRunner
    {
        public bool ThrowNext { get; set; }

        public List<string?> Threads { get; } = [];

        public ModelSignature Signature => inner.Signature;

        public string Device => inner.Device;

        public RunResult Run(ReadOnlySpan<Tensor> inputs, ReadOnlySpan<int> outputs)
        {
            lock (Threads)
            {
                Threads.Add(Thread.CurrentThread.Name);
            }

            if (ThrowNext)
            {
                ThrowNext = false;
                throw new InvalidOperationException("injected fault");
            }

            return inner.Run(inputs, outputs);
        }

        public void Dispose() => inner.Dispose();
    }
}
