using System.Globalization;
using System.Text;
using Gateway.Abstractions;
using Gateway.Scheduling;

namespace Gateway.Repository;

/// <summary>
/// Measures a freshly loaded, warmed-up model's run time at the batch sizes its configuration
/// allows (1, 2, 4, … up to the maximum, the preferred sizes and the maximum), on the device it
/// serves on, with zero inputs built from its declared tensors, and gives its scheduling policy
/// the <see cref="TunedBatching"/> over that curve. The measuring stops when the budget is spent
/// (the sizes measured so far make the curve): sizes are admitted on a projection of their cost
/// from the runs before them, so readiness is held back by about the budget (a run slower than
/// projected, on a busy machine, can take it past).
/// A model whose real requests zeros cannot stand for keeps the configured behaviour.
/// </summary>
internal static class BatchTuner
{
    /// <summary>Timed runs per batch size at most; their median is the curve's point (others' builds share the cores).</summary>
    private const int RunsPerSize = 5;

    /// <summary>
    /// The policy <paramref name="definition"/>'s version runs with: its configured one, plus the
    /// measured tuning when <paramref name="enabled"/> and the model batches. <paramref name="note"/>
    /// says what was decided and why, for the log.
    /// </summary>
    public static SchedulingPolicy Tune(IModelRunner runner, ModelSignature signature, ModelDefinition definition, bool enabled, TimeSpan budget, TimeProvider time, out string note)
    {
        var policy = definition.Scheduling;
        note = string.Empty;
        if (!policy.Batching)
        {
            return policy;
        }

        if (!enabled || budget <= TimeSpan.Zero)
        {
            note = "batch tuning is off (Gateway:BatchTuning); the configured window applies";
            return policy with { TuningNote = note };
        }

        if (Unsynthesisable(signature) is { } why)
        {
            note = $"batching not tuned, {why}; the configured window applies";
            return policy with { TuningNote = note };
        }

        var started = time.GetTimestamp();
        var outputs = signature.AllOutputs();

        // First an untimed run of each size (warm-up ran only at 1, the preferred sizes and the
        // maximum). A size is taken only if its untimed and first timed run, priced at the last
        // size's per-row cost, fit the budget together with the first timed run still owed to
        // every size already taken (the first timed round always runs).
        var sizes = new List<int>();
        var inputs = new List<Tensor[]>();
        var first = new List<double>();
        var owed = 0.0;
        var cut = false;
        foreach (var size in Sizes(policy))
        {
            var projected = sizes.Count == 0 ? 0 : first[^1] / sizes[^1] * size;
            if (sizes.Count > 0 && time.GetElapsedTime(started).TotalSeconds + owed + (2 * projected) > budget.TotalSeconds)
            {
                cut = true;
                break;
            }

            var sizeInputs = ModelWarmup.Inputs(signature, definition, size);
            var t0 = time.GetTimestamp();
            if (!RunOnce(runner, sizeInputs, outputs))
            {
                note = $"batching not tuned, a run at batch size {size} failed; the configured window applies";
                return policy with { TuningNote = note };
            }

            first.Add(time.GetElapsedTime(t0).TotalSeconds);
            owed += first[^1];
            sizes.Add(size);
            inputs.Add(sizeInputs);
        }

        // Then timed rounds over every size in turn, so load from other processes falls on all
        // sizes alike rather than on whichever was being measured. The first round always runs;
        // later ones stop at the budget.
        var times = new double[sizes.Count][];
        for (var i = 0; i < sizes.Count; i++)
        {
            times[i] = new double[RunsPerSize];
        }

        var rounds = new int[sizes.Count];
        var spent = false;
        for (var round = 0; round < RunsPerSize && !spent; round++)
        {
            for (var i = 0; i < sizes.Count; i++)
            {
                if (round > 0 && time.GetElapsedTime(started) >= budget)
                {
                    spent = true;
                    break;
                }

                var t0 = time.GetTimestamp();
                RunOnce(runner, inputs[i], outputs);
                times[i][rounds[i]++] = time.GetElapsedTime(t0).TotalSeconds;
            }
        }

        var points = new List<(int, double)>(sizes.Count);
        for (var i = 0; i < sizes.Count; i++)
        {
            // The lower median: of two runs the faster, the one less disturbed by others.
            Array.Sort(times[i], 0, rounds[i]);
            points.Add((sizes[i], Math.Max(times[i][(rounds[i] - 1) / 2], 1e-9)));
        }

        var tuning = new TunedBatching(new RunTimeCurve(points), policy.TargetBatchSize);
        note = Describe(tuning, runner.Device, time.GetElapsedTime(started), budget, cut);
        return policy with { Tuning = tuning, TuningNote = cut ? "the measuring budget ran out before every size was measured" : string.Empty };
    }

    /// <summary>1, 2, 4, … below the maximum, the preferred sizes and the maximum, ascending.</summary>
    internal static SortedSet<int> Sizes(SchedulingPolicy policy)
    {
        var sizes = new SortedSet<int> { 1, policy.MaxBatchSize };
        for (var size = 2; size < policy.MaxBatchSize; size *= 2)
        {
            sizes.Add(size);
        }

        foreach (var size in policy.PreferredBatchSizes)
        {
            sizes.Add(size);
        }

        return sizes;
    }

    /// <summary>Why zero inputs cannot stand for real requests, or null when they can.</summary>
    internal static string? Unsynthesisable(ModelSignature signature)
    {
        foreach (var input in signature.Inputs)
        {
            if (input.DataType == DataType.Bytes)
            {
                return $"input {input.Name} is BYTES (its cost depends on the strings sent)";
            }

            for (var d = 1; d < input.Shape.Rank; d++)
            {
                if (input.Shape[d] < 0)
                {
                    return $"input {input.Name} has a variable dimension besides the batch (a run's cost depends on the size sent)";
                }
            }
        }

        return null;
    }

    private static bool RunOnce(IModelRunner runner, Tensor[] inputs, int[] outputs)
    {
        var result = runner.Run(inputs, outputs);
        result.Outputs?.Dispose();
        return result.Error is null;
    }

    private static string Describe(TunedBatching tuning, string device, TimeSpan took, TimeSpan budget, bool cut)
    {
        var text = new StringBuilder();
        var culture = CultureInfo.InvariantCulture;
        text.Append(culture, $"batching tuned on {device}: ");
        text.Append(tuning.BestBatchSize == 1
            ? "batching does not pay (no size beats batch 1's rows per second), so a request is never held for others"
            : $"batch size {tuning.BestBatchSize} has the most rows per second, so short batches wait while more are due within the window");
        text.Append("; run time by batch size:");
        var sizes = tuning.Curve.Sizes;
        var seconds = tuning.Curve.Seconds;
        for (var i = 0; i < sizes.Length; i++)
        {
            text.Append(culture, $" {sizes[i]}: {seconds[i] * 1e3:0.###} ms ({sizes[i] / seconds[i]:0} rows/s)");
            text.Append(i < sizes.Length - 1 ? "," : string.Empty);
        }

        text.Append(culture, $"; measured in {took.TotalMilliseconds:0} ms of a {budget.TotalMilliseconds:0} ms budget");
        if (cut)
        {
            text.Append(" (the budget ran out: larger sizes are extrapolated from the largest measured)");
        }

        return text.ToString();
    }
}
