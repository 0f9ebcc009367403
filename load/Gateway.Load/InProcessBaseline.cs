using System.Diagnostics;
using Gateway.Abstractions;
using Gateway.Backends.Onnx;
using Gateway.Perf;

namespace Gateway.Load;

/// <summary>Images per second of the raw session at one batch size.</summary>
internal readonly record struct BatchThroughput(int Batch, long Runs, double Seconds, double ImagesPerSecond, Percentiles RunLatency);

/// <summary>What the backend does with no server around it, measured before the server starts.</summary>
internal sealed class InProcessResult
{
    /// <summary><c>IModelRunner.Run</c> on identity [1,16], outputs disposed, per call.</summary>
    public required Percentiles IdentityRun { get; init; }

    public required long IdentityCalls { get; init; }

    public required List<BatchThroughput> Mobilenet { get; init; }

    /// <summary>How the cores were used while it ran (no server: Server is 0).</summary>
    public CpuUse Cpu { get; init; }
}

/// <summary>
/// Loads models through <see cref="OnnxBackend"/> exactly as the gateway does (same default session
/// options) and calls <see cref="IModelRunner.Run"/> in a loop on this thread.
/// </summary>
internal static class InProcessBaseline
{
    public static InProcessResult Measure(string fixtures, double seconds, IReadOnlyList<int> batches)
    {
        var cpuStart = CpuSnapshot.Take(0);
        var backend = new OnnxBackend();
        using var identity = Load(backend, fixtures, "identity");
        var sample = Samples.Load(fixtures, "identity", 0);
        var inputs = new[] { ToTensor(sample.Inputs[0], sample.Inputs[0].Data, sample.Inputs[0].Shape) };
        int[] outputs = [0];

        // Warm-up: one second of calls, not recorded.
        var warmEnd = Stopwatch.GetTimestamp() + Hdr.SecondsToTicks(1);
        while (Stopwatch.GetTimestamp() < warmEnd)
        {
            RunOnce(identity, inputs, outputs);
        }

        var histogram = Hdr.Create();
        var end = Stopwatch.GetTimestamp() + Hdr.SecondsToTicks(seconds);
        while (true)
        {
            var t0 = Stopwatch.GetTimestamp();
            if (t0 >= end)
            {
                break;
            }

            RunOnce(identity, inputs, outputs);
            Hdr.Record(histogram, Hdr.TicksToNanoseconds(Stopwatch.GetTimestamp() - t0));
        }

        var results = new List<BatchThroughput>();
        if (batches.Count > 0)
        {
            using var mobilenet = Load(backend, fixtures, "mobilenet_v2");
            var image = Samples.Load(fixtures, "mobilenet_v2", 0).Inputs[0];
            foreach (var batch in batches)
            {
                results.Add(MeasureBatch(mobilenet, image, batch, seconds));
            }
        }

        return new InProcessResult
        {
            IdentityRun = Percentiles.Of(histogram),
            IdentityCalls = histogram.TotalCount,
            Mobilenet = results,
            Cpu = CpuSnapshot.Take(0).Since(cpuStart),
        };
    }

    private static BatchThroughput MeasureBatch(IModelRunner runner, SampleTensor image, int batch, double seconds)
    {
        var data = new byte[image.Data.Length * batch];
        for (var i = 0; i < batch; i++)
        {
            image.Data.CopyTo(data, i * image.Data.Length);
        }

        var shape = (long[])image.Shape.Clone();
        shape[0] = batch;
        var inputs = new[] { ToTensor(image, data, shape) };
        int[] outputs = [0];
        for (var i = 0; i < 3; i++)
        {
            RunOnce(runner, inputs, outputs);
        }

        var histogram = Hdr.Create();
        var start = Stopwatch.GetTimestamp();
        var end = start + Hdr.SecondsToTicks(seconds);
        long runs = 0;
        long now;
        do
        {
            var t0 = Stopwatch.GetTimestamp();
            RunOnce(runner, inputs, outputs);
            now = Stopwatch.GetTimestamp();
            Hdr.Record(histogram, Hdr.TicksToNanoseconds(now - t0));
            runs++;
        }
        while (now < end || runs < 5);

        var elapsed = (now - start) / (double)Stopwatch.Frequency;
        return new BatchThroughput(batch, runs, elapsed, runs * batch / elapsed, Percentiles.Of(histogram));
    }

    private static void RunOnce(IModelRunner runner, Tensor[] inputs, int[] outputs)
    {
        var result = runner.Run(inputs, outputs);
        if (result.Outputs is not { } produced)
        {
            throw new InvalidOperationException($"the in-process run failed: {result.Error?.Message}");
        }

        produced.Dispose();
    }

    private static IModelRunner Load(OnnxBackend backend, string fixtures, string model)
    {
        var loaded = backend.Load(new ModelLoadRequest
        {
            ModelName = model,
            Version = 1,
            ModelPath = Path.GetFullPath(Path.Combine(fixtures, model + ".onnx")),
        });
        return loaded.Runner ?? throw new InvalidOperationException($"{model}: {loaded.Error?.Message}");
    }

    private static Tensor ToTensor(SampleTensor sample, byte[] data, long[] shape)
    {
        if (!DataTypes.TryParse(sample.DataType, out var type))
        {
            throw new InvalidOperationException($"unknown datatype {sample.DataType}");
        }

        return new Tensor(type, new TensorShape(shape), data);
    }
}
