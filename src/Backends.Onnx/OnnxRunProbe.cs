using System.Diagnostics;
using Gateway.Abstractions;

namespace Gateway.Backends.Onnx;

/// <summary>
/// Times a few runs of a freshly loaded model on zero-filled inputs (variable dimensions as 1), so
/// the backend can choose what suits the model's size when the configuration leaves it open.
/// </summary>
internal static class OnnxRunProbe
{
    /// <summary>
    /// A CPU run shorter than this has no operator worth splitting across threads, while ONNX
    /// Runtime's intra-op pool wakes its workers for every run (a parallel section), which costs
    /// a large share of such a run and, with spinning workers, CPU the requests need.
    /// </summary>
    public static readonly TimeSpan SingleThreadBelow = TimeSpan.FromMicroseconds(50);

    private const int Runs = 5;

    /// <summary>A run this long ends the probe at once: the model is not short, and a long one is not run five times at load.</summary>
    private static readonly TimeSpan s_enough = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// The fastest of a few runs (one, when it takes a millisecond or more), or null when the model cannot be probed that way (string inputs,
    /// or it refuses zeros): the caller then keeps its defaults.
    /// </summary>
    public static TimeSpan? Fastest(IModelRunner runner)
    {
        var signature = runner.Signature;
        foreach (var spec in signature.Inputs)
        {
            if (spec.DataType == DataType.Bytes)
            {
                return null;
            }
        }

        var inputs = signature.ZeroInputs(1);
        foreach (var input in inputs)
        {
            if (input.Data.Length > 1 << 24)
            {
                return null; // not a model this is for, and not worth running on 16 MiB of zeros
            }
        }

        var outputs = signature.AllOutputs();
        var fastest = TimeSpan.MaxValue;
        for (var run = 0; run < Runs; run++)
        {
            var start = Stopwatch.GetTimestamp();
            var result = runner.Run(inputs, outputs);
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (result.Error is not null)
            {
                return null;
            }

            result.Outputs?.Dispose();
            fastest = elapsed < fastest ? elapsed : fastest;
            if (elapsed >= s_enough)
            {
                break;
            }
        }

        return fastest;
    }
}
