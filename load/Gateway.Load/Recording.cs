using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

namespace Gateway.Load;

/// <summary>Histogram settings and time conversions shared by every recorder: values in nanoseconds.</summary>
internal static class Hdr
{
    /// <summary>60 s: anything slower is clamped and counted as 60 s.</summary>
    public const long MaxNanoseconds = 60_000_000_000;

    public static LongHistogram Create() => new(1, MaxNanoseconds, 3);

    public static long TicksToNanoseconds(long ticks) => (long)(ticks * (1e9 / Stopwatch.Frequency));

    public static long SecondsToTicks(double seconds) => (long)(seconds * Stopwatch.Frequency);

    public static void Record(HistogramBase histogram, long nanoseconds) =>
        histogram.RecordValue(Math.Clamp(nanoseconds, 0, MaxNanoseconds));
}

/// <summary>Percentiles of one histogram, in microseconds.</summary>
internal readonly record struct Percentiles(long Count, double P50, double P90, double P99, double P999, double Max)
{
    public static Percentiles Of(HistogramBase histogram) => histogram.TotalCount == 0
        ? default
        : new(
            histogram.TotalCount,
            histogram.GetValueAtPercentile(50) / 1000.0,
            histogram.GetValueAtPercentile(90) / 1000.0,
            histogram.GetValueAtPercentile(99) / 1000.0,
            histogram.GetValueAtPercentile(99.9) / 1000.0,
            histogram.GetMaxValue() / 1000.0);

    /// <summary>Microseconds with one decimal under 100, none above.</summary>
    public static string Format(double microseconds) =>
        microseconds < 100 ? microseconds.ToString("0.0", CultureInfo.InvariantCulture) : microseconds.ToString("0", CultureInfo.InvariantCulture);
}

/// <summary>
/// What one caller (closed model) or one run (open model, under a lock) saw: latencies, answers
/// by status, and the server's <c>Server-Timing</c> metrics.
/// </summary>
internal sealed class Collector
{
    /// <summary>Width of one bucket of <see cref="Completions"/>: also the statistics sampling interval.</summary>
    public const double BucketSeconds = 0.25;

    /// <summary>A collector without a time origin: it keeps no <see cref="Completions"/> timeline.</summary>
    public Collector()
    {
    }

    /// <summary>A collector whose <see cref="Completions"/> count from <paramref name="origin"/> (a Stopwatch timestamp: the start of the measured window).</summary>
    public Collector(long origin)
    {
        Origin = origin;
    }

    public LongHistogram Latency { get; } = Hdr.Create();

    /// <summary>Stopwatch timestamp the timeline counts from; 0 when there is none.</summary>
    public long Origin { get; private set; }

    /// <summary>Recorded completions per <see cref="BucketSeconds"/> after <see cref="Origin"/>, for the requests-per-second picture.</summary>
    public List<long> Completions { get; } = [];

    /// <summary>Open model: from the actual send to the last byte (latency counts from the schedule).</summary>
    public LongHistogram ServiceTime { get; } = Hdr.Create();

    /// <summary>Open model: how late the dispatcher sent each request after its scheduled time.</summary>
    public LongHistogram SendLag { get; } = Hdr.Create();

    public SortedDictionary<string, long> Errors { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, LongHistogram> ServerTiming { get; } = new(StringComparer.Ordinal);

    public long Ok { get; private set; }

    public long Requests { get; private set; }

    public long ResponseBytes { get; private set; }

    /// <summary>Timestamp of the last completion recorded.</summary>
    public long LastCompletion { get; private set; }

    public void Record(in Outcome outcome, long latencyNanoseconds, long completedAt)
    {
        Requests++;
        ResponseBytes += outcome.Bytes;
        LastCompletion = Math.Max(LastCompletion, completedAt);
        Hdr.Record(Latency, latencyNanoseconds);
        if (Origin != 0 && completedAt >= Origin)
        {
            var bucket = (int)((completedAt - Origin) / (BucketSeconds * Stopwatch.Frequency));
            while (Completions.Count <= bucket)
            {
                Completions.Add(0);
            }

            Completions[bucket]++;
        }

        if (outcome.Status == 200)
        {
            Ok++;
        }
        else
        {
            var key = outcome.Status == 0 ? outcome.Failure ?? "exception" : outcome.Status.ToString(CultureInfo.InvariantCulture);
            Errors[key] = Errors.GetValueOrDefault(key) + 1;
        }

        if (outcome.ServerTiming is { } header)
        {
            ServerTimingHeader.Record(header, ServerTiming);
        }
    }

    public void CountError(string key)
    {
        Errors[key] = Errors.GetValueOrDefault(key) + 1;
    }

    public void Add(Collector other)
    {
        Latency.Add(other.Latency);
        ServiceTime.Add(other.ServiceTime);
        SendLag.Add(other.SendLag);
        foreach (var (key, count) in other.Errors)
        {
            Errors[key] = Errors.GetValueOrDefault(key) + count;
        }

        foreach (var (metric, histogram) in other.ServerTiming)
        {
            if (!ServerTiming.TryGetValue(metric, out var mine))
            {
                ServerTiming[metric] = mine = Hdr.Create();
            }

            mine.Add(histogram);
        }

        // Callers of one run share its origin: their timelines add bucket by bucket.
        if (other.Completions.Count > 0)
        {
            Origin = Origin == 0 ? other.Origin : Origin;
            for (var i = 0; i < other.Completions.Count; i++)
            {
                if (Completions.Count <= i)
                {
                    Completions.Add(0);
                }

                Completions[i] += other.Completions[i];
            }
        }

        Ok += other.Ok;
        Requests += other.Requests;
        ResponseBytes += other.ResponseBytes;
        LastCompletion = Math.Max(LastCompletion, other.LastCompletion);
    }
}

/// <summary>The answer to one request: status (0 when it failed), body bytes, Server-Timing.</summary>
internal readonly record struct Outcome(int Status, long Bytes, string? ServerTiming, string? Failure);

/// <summary>
/// Parses <c>Server-Timing: queue;dur=0.012, compute;dur=0.003, total;dur=0.050</c> (durations in
/// milliseconds) into per-metric histograms, and derives <c>total-compute</c>: the server's
/// own overhead around the model.
/// </summary>
internal static class ServerTimingHeader
{
    public const string OverheadMetric = "total-compute";

    public static void Record(string header, Dictionary<string, LongHistogram> metrics)
    {
        double total = double.NaN, compute = double.NaN;
        foreach (var entry in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = entry.Split(';', StringSplitOptions.TrimEntries);
            var name = parts[0];
            foreach (var parameter in parts.AsSpan(1))
            {
                if (!parameter.StartsWith("dur=", StringComparison.OrdinalIgnoreCase)
                    || !double.TryParse(parameter.AsSpan(4), NumberStyles.Float, CultureInfo.InvariantCulture, out var milliseconds))
                {
                    continue;
                }

                Add(metrics, name, milliseconds);
                if (name == "total")
                {
                    total = milliseconds;
                }
                else if (name == "compute")
                {
                    compute = milliseconds;
                }
            }
        }

        if (!double.IsNaN(total) && !double.IsNaN(compute))
        {
            Add(metrics, OverheadMetric, Math.Max(0, total - compute));
        }
    }

    private static void Add(Dictionary<string, LongHistogram> metrics, string name, double milliseconds)
    {
        if (!metrics.TryGetValue(name, out var histogram))
        {
            metrics[name] = histogram = Hdr.Create();
        }

        Hdr.Record(histogram, (long)Math.Round(milliseconds * 1e6));
    }
}
