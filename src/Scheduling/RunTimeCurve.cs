namespace Gateway.Scheduling;

/// <summary>
/// A model version's run time by batch size, measured when it loaded on the device it serves on
/// (or given by a test). Between two measured sizes the time is interpolated linearly; past the
/// largest it grows in proportion to the rows (the largest's per-row cost), so an unmeasured size
/// never looks cheaper than the measurements say.
/// </summary>
public sealed class RunTimeCurve
{
    private readonly int[] _sizes;
    private readonly double[] _seconds;

    /// <summary>
    /// A curve through <paramref name="points"/> (batch size, seconds per run). Sizes must be
    /// positive and include 1; times must be positive.
    /// </summary>
    public RunTimeCurve(IEnumerable<(int BatchSize, double Seconds)> points)
    {
        var sorted = new SortedDictionary<int, double>();
        foreach (var (size, seconds) in points)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(size, 1, nameof(points));
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(seconds, nameof(points));
            sorted[size] = seconds;
        }

        if (!sorted.ContainsKey(1))
        {
            throw new ArgumentException("a run-time curve needs the time at batch size 1", nameof(points));
        }

        _sizes = [.. sorted.Keys];
        _seconds = [.. sorted.Values];
    }

    /// <summary>The measured batch sizes, ascending.</summary>
    public ReadOnlySpan<int> Sizes => _sizes;

    /// <summary>The measured seconds per run, in the order of <see cref="Sizes"/>.</summary>
    public ReadOnlySpan<double> Seconds => _seconds;

    /// <summary>Seconds one run of <paramref name="rows"/> rows takes (rows &gt;= 1).</summary>
    public double SecondsAt(int rows)
    {
        var index = Array.BinarySearch(_sizes, rows);
        if (index >= 0)
        {
            return _seconds[index];
        }

        var above = ~index;
        if (above >= _sizes.Length)
        {
            return _seconds[^1] / _sizes[^1] * rows;
        }

        // rows > 1 here and 1 is always measured, so there is a point below.
        var below = above - 1;
        var fraction = (double)(rows - _sizes[below]) / (_sizes[above] - _sizes[below]);
        return _seconds[below] + (fraction * (_seconds[above] - _seconds[below]));
    }

    /// <summary>Rows per second one instance reaches running batches of <paramref name="rows"/>.</summary>
    public double RowsPerSecondAt(int rows) => rows / SecondsAt(rows);
}
