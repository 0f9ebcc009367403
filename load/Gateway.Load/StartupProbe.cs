using Gateway.Testing;

namespace Gateway.Load;

/// <summary>Exec-to-ready times and idle RSS of repeated starts on one repository.</summary>
internal sealed class StartupResult
{
    public required string Repository { get; init; }

    public required string Label { get; init; }

    public required List<double> ReadyMilliseconds { get; init; }

    public required List<long> IdleRssBytes { get; init; }

    public double MedianReadyMilliseconds => Median(ReadyMilliseconds);

    public double MedianIdleRssBytes => Median(IdleRssBytes.ConvertAll(static b => (double)b));

    public static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.ToArray();
        Array.Sort(sorted);
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}

/// <summary>
/// Starts the binary again and again: time from exec to the first 200 of
/// <c>/v2/health/ready</c> (probed every ~1 ms with a raw socket, so the figure is good to about
/// a millisecond), then RSS after one idle second. One unrecorded start first warms the page cache.
/// </summary>
internal static class StartupProbe
{
    public static StartupResult Measure(string binary, string repository, string label, int runs, LoadOptions options)
    {
        // JIT the probe before it times anything.
        GatewayProcess.IsReady(1);
        var times = new List<double>(runs);
        var rss = new List<long>(runs);
        for (var i = -1; i < runs; i++)
        {
            using var gateway = LoadGateway.Start(binary, repository, options);
            var ready = gateway.WaitReady(TimeSpan.FromSeconds(60));
            Thread.Sleep(1000);
            var (now, _) = gateway.Memory();
            if (i >= 0)
            {
                times.Add(ready.TotalMilliseconds);
                rss.Add(now);
            }
        }

        return new StartupResult { Repository = repository, Label = label, ReadyMilliseconds = times, IdleRssBytes = rss };
    }
}
