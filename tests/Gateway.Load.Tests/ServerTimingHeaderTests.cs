using Gateway.Load;
using HdrHistogram;

namespace Gateway.Load.Tests;

public class ServerTimingHeaderTests
{
    [Fact]
    public void Record_ReadsEachMetricInMilliseconds_AndDerivesOverhead()
    {
        var metrics = new Dictionary<string, LongHistogram>(StringComparer.Ordinal);

        // The gateway writes it without the optional spaces; the parser takes both.
        ServerTimingHeader.Record("queue;dur=0.012,compute;dur=0.003, total;dur=0.050", metrics);

        Assert.Equal(["compute", "queue", "total", "total-compute"], metrics.Keys.Order(StringComparer.Ordinal));
        Near(12_000, Single(metrics["queue"]));
        Near(3_000, Single(metrics["compute"]));
        Near(50_000, Single(metrics["total"]));
        Near(47_000, Single(metrics["total-compute"]));
    }

    [Theory]
    [InlineData("total;dur=1.5", "total", 1_500_000)]
    [InlineData("total;desc=\"all of it\";dur=2", "total", 2_000_000)]
    [InlineData("cache, total;dur=0.25", "total", 250_000)]
    public void Record_ToleratesOtherParameters(string header, string metric, long nanoseconds)
    {
        var metrics = new Dictionary<string, LongHistogram>(StringComparer.Ordinal);

        ServerTimingHeader.Record(header, metrics);

        Near(nanoseconds, Single(metrics[metric]));
        Assert.False(metrics.ContainsKey(ServerTimingHeader.OverheadMetric));
    }

    [Theory]
    [InlineData("total;dur=abc")]
    [InlineData("total")]
    [InlineData("")]
    public void Record_IgnoresEntriesWithoutANumber(string header)
    {
        var metrics = new Dictionary<string, LongHistogram>(StringComparer.Ordinal);

        ServerTimingHeader.Record(header, metrics);

        Assert.Empty(metrics);
    }

    [Fact]
    public void Record_AccumulatesAcrossResponses()
    {
        var metrics = new Dictionary<string, LongHistogram>(StringComparer.Ordinal);
        for (var i = 1; i <= 100; i++)
        {
            ServerTimingHeader.Record($"compute;dur={i / 1000.0:0.000}, total;dur={(i + 10) / 1000.0:0.000}", metrics);
        }

        Assert.Equal(100, metrics["total"].TotalCount);
        var overhead = Percentiles.Of(metrics[ServerTimingHeader.OverheadMetric]);
        Assert.Equal(10, overhead.P50, 0.1);
        Assert.Equal(10, overhead.P99, 0.1);
    }

    /// <summary>HdrHistogram keeps three significant digits.</summary>
    private static void Near(long expected, long actual) => Assert.InRange(actual, expected - (expected / 500), expected + (expected / 500));

    private static long Single(LongHistogram histogram)
    {
        Assert.Equal(1, histogram.TotalCount);
        return histogram.GetValueAtPercentile(50);
    }
}
