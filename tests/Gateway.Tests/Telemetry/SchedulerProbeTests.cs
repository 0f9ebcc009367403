using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Repository;
using Gateway.Scheduling;
using Gateway.Testing;
using Gateway.Tests.Scheduling;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.Telemetry;

/// <summary>
/// The readiness probe of a scheduler on a fake clock: a hung execution and a queue that stops
/// moving are reported once they pass the stall limit, and a scheduler that recovers is healthy.
/// </summary>
public sealed class SchedulerProbeTests : IDisposable
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan s_stall = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new();
    private readonly GatedRunner _runner;
    private readonly ModelVersion _model;

    public SchedulerProbeTests()
    {
        var inner = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "identity", Version = 1, ModelPath = ReferenceModels.ModelFile("identity") }).Runner!;
        _runner = new GatedRunner(inner);
        var policy = new SchedulingPolicy { MaxQueueSize = 8, InstanceCount = 1 };
        var definition = new ModelDefinition { Name = "identity", Backend = new OnnxBackend(), Config = new ModelConfig(), Scheduling = policy };
        _model = new ModelVersion(definition, 1, _runner, inner.Signature, new SchedulerFactory(_time, NullLogger.Instance));
    }

    public void Dispose()
    {
        _runner.Gate.Set();
        _model.DisposeNow();
    }

    [Fact]
    public void Idle_IsHealthy()
    {
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Null(_model.Scheduler.Probe(s_stall));
    }

    [Fact]
    public async Task HungExecution_IsReported_AfterTheStallLimit_AndClearsWhenItFinishes()
    {
        var first = _model.Scheduler.Submit(TestModels.Identity(_model, 1), default);
        Assert.True(_runner.Entered.Wait(s_wait));
        var second = _model.Scheduler.Submit(TestModels.Identity(_model, 1), default);

        _time.Advance(s_stall - TimeSpan.FromSeconds(1));
        Assert.Null(_model.Scheduler.Probe(s_stall));
        _time.Advance(TimeSpan.FromSeconds(2));
        var problem = _model.Scheduler.Probe(s_stall);
        Assert.NotNull(problem);
        Assert.Contains("an execution on thread identity/1#0 has run for 31 s", problem);

        _runner.Gate.Set();
        Assert.Equal(OutcomeStatus.Succeeded, await first.Completion.AsTask().WaitAsync(s_wait));
        Assert.Equal(OutcomeStatus.Succeeded, await second.Completion.AsTask().WaitAsync(s_wait));
        Assert.Null(_model.Scheduler.Probe(s_stall));
        await _model.Scheduler.ReleaseAsync(first);
        await _model.Scheduler.ReleaseAsync(second);
    }

    [Fact]
    public async Task Closed_IsReported()
    {
        _runner.Gate.Set();
        await _model.RetireAsync();
        Assert.NotNull(_model.Scheduler.Probe(s_stall));
    }

    /// <summary>Fault injection: blocks every run until the gate opens (a hung backend).</summary>
    private sealed class GatedRunner(IModelRunner inner) : IModelRunner
    {
        public ManualResetEventSlim Gate { get; } = new();

        public ManualResetEventSlim Entered { get; } = new();

        public ModelSignature Signature => inner.Signature;

        public string Device => inner.Device;

        public RunResult Run(ReadOnlySpan<Tensor> inputs, ReadOnlySpan<int> outputs)
        {
            Entered.Set();
            Gate.Wait();
            return inner.Run(inputs, outputs);
        }

        public void Dispose() => inner.Dispose();
    }
}
