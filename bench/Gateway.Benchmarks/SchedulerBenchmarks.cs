using System.Text;
using BenchmarkDotNet.Attributes;
using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Protocol;
using Gateway.Repository;
using Gateway.Scheduling;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Benchmarks;

/// <summary>
/// The scheduler around a real ONNX Runtime <c>identity</c>: what enqueueing, dispatching and
/// completing cost per request, on each path. The baseline is the model's <c>Run</c> alone.
/// <list type="bullet">
/// <item><c>Inline</c>: an unbatched model with a free instance runs on the caller's thread.</item>
/// <item><c>Handoff</c>: the same model with the inline path off: queue, wake an execution thread, complete back
/// to BenchmarkDotNet's caller, which blocks on the task (so every operation includes waking it).</item>
/// <item><c>HandoffChained</c>: the same, but sixteen requests in a row from one async caller that submits
/// the next when the previous completes, as a server's request loop does (it never blocks a thread);
/// reported per request (<c>OperationsPerInvoke</c> 16).</item>
/// <item><c>Batch16</c>: sixteen requests submitted together to a batching model (preferred size 16),
/// merged into one run and scattered back; reported per request (<c>OperationsPerInvoke</c> 16).</item>
/// </list>
/// </summary>
[MemoryDiagnoser]
public class SchedulerBenchmarks
{
    private ModelVersion _inline = null!;
    private ModelVersion _handoff = null!;
    private ModelVersion _batching = null!;
    private InferRequest[] _requests = null!;
    private WorkItem[] _items = null!;

    [GlobalSetup]
    public void Setup()
    {
        var path = Path.Combine(BenchModels.Shared.Fixtures, "identity.onnx");
        ModelVersion Load(SchedulingPolicy policy)
        {
            var runner = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "identity", Version = 1, ModelPath = path }).Runner!;
            var definition = new ModelDefinition
            {
                Name = "identity",
                Backend = new OnnxBackend(),
                Config = new ModelConfig { MaxBatchSize = policy.MaxBatchSize },
                Scheduling = policy,
            };
            return new ModelVersion(definition, 1, runner, runner.Signature, new SchedulerFactory(TimeProvider.System, NullLogger.Instance));
        }

        _inline = Load(new SchedulingPolicy { InlineThreshold = TimeSpan.FromMilliseconds(1) });
        _handoff = Load(new SchedulingPolicy { InlineThreshold = TimeSpan.Zero });
        _batching = Load(new SchedulingPolicy
        {
            Batching = true,
            MaxBatchSize = 16,
            PreferredBatchSizes = [16],
            MaxQueueDelay = TimeSpan.FromSeconds(1),
        });

        var body = Encoding.UTF8.GetBytes("""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}""");
        _requests = new InferRequest[16];
        for (var i = 0; i < _requests.Length; i++)
        {
            _requests[i] = new InferRequest();
        }

        _items = new WorkItem[16];
        Parse(_inline, body);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _inline.DisposeNow();
        _handoff.DisposeNow();
        _batching.DisposeNow();
    }

    [Benchmark(Baseline = true)]
    public int Run()
    {
        var request = _requests[0];
        var result = _inline.Runner.Run(request.BuildTensors(), request.Outputs.AsSpan(0, request.OutputCount));
        using var outputs = result.Outputs!;
        return outputs.Count;
    }

    [Benchmark]
    public async Task<int> Inline() => (int)await SubmitOneAsync(_inline);

    [Benchmark]
    public async Task<int> Handoff() => (int)await SubmitOneAsync(_handoff);

    [Benchmark(OperationsPerInvoke = 16)]
    public async Task<int> HandoffChained()
    {
        var total = 0;
        for (var i = 0; i < 16; i++)
        {
            total += (int)await SubmitOneAsync(_handoff);
        }

        return total;
    }

    [Benchmark(OperationsPerInvoke = 16)]
    public async Task<int> Batch16()
    {
        var scheduler = _batching.Scheduler;
        for (var i = 0; i < 16; i++)
        {
            _requests[i].Start(_batching);
            _items[i] = scheduler.Submit(_requests[i], default);
        }

        var rows = 0;
        for (var i = 0; i < 16; i++)
        {
            await _items[i].Completion;
            rows += _items[i].BatchSize;
            await scheduler.ReleaseAsync(_items[i]);
        }

        return rows;
    }

    private async Task<OutcomeStatus> SubmitOneAsync(ModelVersion model)
    {
        var scheduler = model.Scheduler;
        var item = scheduler.Submit(_requests[0], default);
        var outcome = await item.Completion;
        await scheduler.ReleaseAsync(item);
        return outcome;
    }

    /// <summary>Parses one identity body into every request (they share the input values).</summary>
    private void Parse(ModelVersion model, byte[] body)
    {
        foreach (var request in _requests)
        {
            request.Start(model);
            var error = InferRequestParser.Parse(request, body, default, hasBinaryHeader: false);
            if (error is not null)
            {
                throw new InvalidOperationException(error);
            }
        }
    }
}
