namespace Gateway.Scheduling;

/// <summary>
/// The batching decision from a measured <see cref="RunTimeCurve"/>: whether holding the queued
/// rows for more can raise throughput. Triton's batcher waits the configured window whenever a
/// batch is short of its target; this one waits only when the rows it expects to arrive within
/// the window, run together, would be served faster per instance-second than the rows queued now
/// run at once, counting the instance's idle wait as lost time. The configured window, preferred
/// sizes and maximum stay the bounds: it never waits longer, never runs more rows, and a batch
/// that reached its target goes at once as before.
/// </summary>
public sealed class TunedBatching
{
    /// <summary>
    /// How much faster (as a share) a wait must make the instance before it is taken: measured
    /// curves carry noise of a few percent, and a wait that gains less than that is not a gain.
    /// </summary>
    public const double Margin = 0.05;

    private readonly int[] _candidates;

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
        BestBatchSize = 1;
        foreach (var size in _candidates)
        {
            if (curve.RowsPerSecondAt(size) > curve.RowsPerSecondAt(BestBatchSize) * (1 + Margin))
            {
                BestBatchSize = size;
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
    /// more. <paramref name="secondsPerRow"/> is the expected time between arriving rows (infinite
    /// when unknown), <paramref name="windowLeft"/> the seconds left of the oldest request's
    /// configured window. When it pays, <paramref name="waitSeconds"/> is how long until the rows
    /// waited for are expected (never past the window); the caller decides again then, or sooner
    /// when a request arrives.
    /// </summary>
    public bool ShouldWait(int rows, double secondsPerRow, double windowLeft, out double waitSeconds)
    {
        waitSeconds = 0;
        if (rows >= Target || windowLeft <= 0 || !double.IsFinite(secondsPerRow))
        {
            return false;
        }

        // A size whose rows per second do not beat the rows queued now by the margin is never
        // waited for, however soon its rows would come: the idle wait only adds to its cost. So
        // on a curve where batching does not pay (BestBatchSize 1) a lone request never waits.

        var now = Curve.RowsPerSecondAt(rows);
        var best = now * (1 + Margin);
        var found = false;
        foreach (var size in _candidates)
        {
            if (size <= rows)
            {
                continue;
            }

            var wait = (size - rows) * secondsPerRow;
            if (wait > windowLeft)
            {
                break;
            }

            // Rows per second of instance time over the wait and the run, against running now.
            var rate = size / (wait + Curve.SecondsAt(size));
            if (rate > best)
            {
                best = rate;
                waitSeconds = wait;
                found = true;
            }
        }

        return found;
    }
}

/// <summary>Batches a scheduler dispatched, by why they went (see <see cref="ModelScheduler.Dispatches"/>).</summary>
/// <param name="Full">Reached the target size.</param>
/// <param name="AtWindow">Short of the target when the oldest request's window ran out.</param>
/// <param name="Early">Short of the target, at once: the tuned decision found no wait that pays.</param>
public readonly record struct BatchDispatchCounts(long Full, long AtWindow, long Early);
