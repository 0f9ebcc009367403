using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Repository;
using Gateway.Scheduling;
using Gateway.Testing;
using Microsoft.Extensions.Time.Testing;

namespace Gateway.Tests.Repository;

/// <summary>
/// The measuring at load: which sizes it runs, with what inputs, within what budget, and when it
/// leaves the configured behaviour alone. A fake runner advances a fake clock by a known time per
/// batch size, so the measured curve is known exactly.
/// </summary>
public sealed class BatchTunerTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>A [-1, 4] FP32 model whose run of b rows takes <c>msPerRun(b)</c> on the fake clock.</summary>
    private sealed class TimedRunner(FakeTimeProvider time, Func<long, double> msPerRun, DataType type = DataType.FP32, long width = 4) : IModelRunner
    {
        public List<long> Batches { get; } = [];

        public ModelSignature Signature { get; } = new(
            [new TensorSpec("x", type, new TensorShape([-1, width]))],
            [new TensorSpec("y", DataType.FP32, new TensorShape([-1, 4]))]);

        public string Device => "fake:0";

        public bool Fail { get; init; }

        public RunResult Run(ReadOnlySpan<Tensor> inputs, ReadOnlySpan<int> outputs)
        {
            var rows = inputs[0].Shape[0];
            Assert.Equal(width < 0 ? 1 : width, inputs[0].Shape[1]);
            Assert.All(inputs[0].Data.ToArray(), b => Assert.Equal(0, b));
            Batches.Add(rows);
            time.Advance(TimeSpan.FromMilliseconds(msPerRun(rows)));
            return Fail && rows > 1 ? RunResult.Failure(BackendErrorKind.ExecutionFailed, "no") : RunResult.Success(new NoOutputs());
        }

        public void Dispose()
        {
        }
    }

    private sealed class NoOutputs : RunOutputs
    {
        public override int Count => 0;

        public override DataType GetDataType(int index) => DataType.FP32;

        public override TensorShape GetShape(int index) => default;

        public override ReadOnlySpan<byte> GetData(int index) => [];

        protected override void Dispose(bool disposing)
        {
        }
    }

    private static ModelDefinition Definition(int max, int[]? preferred = null, bool batching = true) => new()
    {
        Name = "m",
        Backend = new OnnxBackend(),
        Config = new ModelConfig { MaxBatchSize = max },
        Scheduling = new SchedulingPolicy
        {
            Batching = batching,
            MaxBatchSize = max,
            PreferredBatchSizes = preferred ?? [],
            MaxQueueDelay = TimeSpan.FromMilliseconds(5),
        },
    };

    private SchedulingPolicy Tune(IModelRunner runner, ModelDefinition definition, bool enabled = true, int budgetMs = 1000) =>
        BatchTuner.Tune(runner, runner.Signature, definition, enabled, TimeSpan.FromMilliseconds(budgetMs), _time, out _);

    [Fact]
    public void Measures_PowersOfTwo_ThePreferredSizes_AndTheMaximum_FiveTimedRunsEach()
    {
        var runner = new TimedRunner(_time, b => 1 + b);
        var policy = Tune(runner, Definition(12, [6]));

        Assert.Equal([1, 2, 4, 6, 8, 12], policy.Tuning!.Curve.Sizes.ToArray());
        Assert.Equal([2, 3, 5, 7, 9, 13], policy.Tuning.Curve.Seconds.ToArray().Select(s => Math.Round(s * 1000, 6)));
        // One untimed run per size, then five timed rounds over all sizes in turn.
        long[] sizes = [1, 2, 4, 6, 8, 12];
        Assert.Equal(Enumerable.Repeat(sizes, 6).SelectMany(s => s), runner.Batches);
        // Per-row cost falls with size, but 6 (the preferred size, so the target) beats 4 by under the margin.
        Assert.Equal(4, policy.Tuning.BestBatchSize);
        Assert.Equal(string.Empty, policy.TuningNote);
    }

    [Fact]
    public void ProportionalCurve_SaysBatchingDoesNotPay()
    {
        var policy = Tune(new TimedRunner(_time, b => 2.0 * b), Definition(16));
        Assert.Equal(1, policy.Tuning!.BestBatchSize);
        Assert.False(policy.Tuning.ShouldWait(1));
    }

    [Fact]
    public void Budget_StopsTheMeasuring_AndTheCurveKeepsWhatWasMeasured()
    {
        // 100 ms a run, 250 ms budget: batch 1 untimed; batch 2's two runs would not fit; two timed
        // rounds of batch 1 (the first always runs, the second starts before the budget is spent).
        var runner = new TimedRunner(_time, _ => 100);
        var started = _time.GetTimestamp();
        var policy = Tune(runner, Definition(16), budgetMs: 250);

        Assert.Equal([1], policy.Tuning!.Curve.Sizes.ToArray());
        Assert.Equal([1, 1, 1], runner.Batches);
        Assert.Contains("budget ran out", policy.TuningNote, StringComparison.Ordinal);
        // The budget is checked between runs: it overruns by less than one run.
        Assert.InRange(_time.GetElapsedTime(started).TotalMilliseconds, 250, 350);
    }

    [Fact]
    public void SwitchedOff_KeepsTheConfiguredWindow_AndRunsNothing()
    {
        var runner = new TimedRunner(_time, _ => 1);
        var policy = Tune(runner, Definition(16), enabled: false);
        Assert.Null(policy.Tuning);
        Assert.Contains("Gateway:BatchTuning", policy.TuningNote, StringComparison.Ordinal);
        Assert.Empty(runner.Batches);

        Assert.Null(Tune(runner, Definition(16), budgetMs: 0).Tuning);
        Assert.Empty(runner.Batches);
    }

    [Fact]
    public void Unbatched_PolicyIsLeftAsConfigured()
    {
        var definition = Definition(0, batching: false);
        var runner = new TimedRunner(_time, _ => 1);
        Assert.Same(definition.Scheduling, Tune(runner, definition));
        Assert.Empty(runner.Batches);
    }

    [Theory]
    [InlineData("BYTES", 4, "input x is BYTES")]
    [InlineData("FP32", -1, "input x has a variable dimension besides the batch")]
    public void InputsZerosCannotStandFor_KeepTheConfiguredWindow_Saying_Why(string type, long width, string reason)
    {
        var runner = new TimedRunner(_time, _ => 1, type == "BYTES" ? DataType.Bytes : DataType.FP32, width);
        var policy = Tune(runner, Definition(16));
        Assert.Null(policy.Tuning);
        Assert.Contains(reason, policy.TuningNote, StringComparison.Ordinal);
        Assert.Contains("the configured window applies", policy.TuningNote, StringComparison.Ordinal);
        Assert.Empty(runner.Batches);
    }

    [Fact]
    public void FailedRun_KeepsTheConfiguredWindow()
    {
        var runner = new TimedRunner(_time, _ => 1) { Fail = true };
        var policy = Tune(runner, Definition(16));
        Assert.Null(policy.Tuning);
        Assert.Contains("a run at batch size 2 failed", policy.TuningNote, StringComparison.Ordinal);
    }

    [Fact]
    public void RealModel_IsMeasuredOnItsDevice()
    {
        using var runner = new OnnxBackend().Load(new ModelLoadRequest { ModelName = "identity", Version = 1, ModelPath = ReferenceModels.ModelFile("identity") }).Runner!;
        var policy = BatchTuner.Tune(runner, runner.Signature, Definition(8), enabled: true, TimeSpan.FromSeconds(5), TimeProvider.System, out var note);
        Assert.Equal([1, 2, 4, 8], policy.Tuning!.Curve.Sizes.ToArray());
        Assert.All(policy.Tuning.Curve.Seconds.ToArray(), s => Assert.InRange(s, 1e-9, 1));
        Assert.StartsWith("batching tuned on cpu: ", note, StringComparison.Ordinal);
    }
}
