namespace Gateway.Scheduling;

/// <summary>
/// The batching decision from a measured <see cref="RunTimeCurve"/>: whether holding the queued
/// rows for more can raise throughput. Triton's batcher waits the configured window whenever a
/// batch is short of its target; this one waits only while the curve says a larger batch (one the
/// target allows) serves more rows per second than the rows queued now, so on a device where a
/// batch costs as much per row as single runs nothing is ever held. The configured window,
/// preferred sizes and maximum stay the bounds: it never waits longer, never runs more rows, and a
/// batch that reached its target goes at once as before.
/// </summary>
public sealed class TunedBatching
{
    /// <summary>
    /// How much faster (as a share) a wait must make the instance before it is taken: measured
    /// curves carry noise of several percent (mobilenet_v2 on a quiet 2-core CPU measured batch 2
    /// 5.8% ahead of batch 1 per image, which is noise), and a wait that gains less is not a gain.
    /// </summary>
    public const double Margin = 0.10;

    private readonly int[] _candidates;

    // Rows per second at each candidate size, from the curve once: ShouldWait runs for every short
    // batch, under the scheduler's lock.
    private readonly double[] _candidateRates;

    /// <summary>The decision over <paramref name="curve"/> for batches of at most <paramref name="target"/> rows.</summary>
    public TunedBatching(RunTimeCurve curve, int target)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(target, 1);
        Curve = curve;
        Target = target;
        var candidates = new SortedSet<int> { target };
        foreach (var size in curve.Sizes)
        {
            if (size <= target)
            {
                candidates.Add(size);
            }
        }

        _candidates = [.. candidates];
        _candidateRates = Array.ConvertAll(_candidates, curve.RowsPerSecondAt);
        BestBatchSize = 1;
        var best = curve.RowsPerSecondAt(1);
        for (var i = 0; i < _candidates.Length; i++)
        {
            if (_candidateRates[i] > best * (1 + Margin))
            {
                BestBatchSize = _candidates[i];
                best = _candidateRates[i];
            }
        }
    }

    /// <summary>The measured curve.</summary>
    public RunTimeCurve Curve { get; }

    /// <summary>The batch size a dispatch aims for (the configured target).</summary>
    public int Target { get; }

    /// <summary>
    /// The size up to <see cref="Target"/> with the highest rows per second, a larger size counting
    /// only when it beats a smaller one by <see cref="Margin"/>; 1 means batching does not pay on
    /// this device, and a lone request is then never held.
    /// </summary>
    public int BestBatchSize { get; }

    /// <summary>
    /// Whether to hold <paramref name="rows"/> queued rows (fewer than <see cref="Target"/>) for
    /// more, up to the configured window: only when some larger size up to the target runs more
    /// rows per second than <paramref name="rows"/> do, by <see cref="Margin"/>. On a curve where
    /// no size beats batch 1 a lone request is never held; once the rows queued reach the size
    /// past which the curve gains nothing, they go without waiting out the window.
    /// </summary>
    public bool ShouldWait(int rows)
    {
        if (rows >= Target)
        {
            return false;
        }

        var now = Curve.RowsPerSecondAt(rows) * (1 + Margin);
        for (var i = 0; i < _candidates.Length; i++)
        {
            if (_candidates[i] > rows && _candidateRates[i] > now)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Batches a scheduler dispatched, by why they went (see <see cref="ModelScheduler.Dispatches"/>).</summary>
/// <param name="Full">Reached the target size.</param>
/// <param name="AtWindow">Short of the target when the oldest request's window ran out.</param>
/// <param name="Early">Short of the target, at once: the tuned decision found no wait that pays.</param>
public readonly record struct BatchDispatchCounts(long Full, long AtWindow, long Early);
