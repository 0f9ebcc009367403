using System.Diagnostics;
using Gateway.Load;

namespace Gateway.Load.Tests;

public sealed class PicturesTests
{
    [Fact]
    public void Distribution_EndsAtTheMaximumAndClimbs()
    {
        var histogram = Hdr.Create();
        for (var us = 1; us <= 1000; us++)
        {
            Hdr.Record(histogram, us * 1000L);
        }

        var points = Pictures.Distribution(histogram);

        Assert.Equal(100, points[^1].Percentile);
        Assert.Equal(1000, points[^1].Microseconds, 1.0);
        Assert.Equal(1000, points[^1].TotalCount);
        for (var i = 1; i < points.Count; i++)
        {
            Assert.True(points[i].Percentile >= points[i - 1].Percentile);
            Assert.True(points[i].Microseconds >= points[i - 1].Microseconds);
        }

        // The median point lies at the recorded median (3 significant digits).
        var median = points.First(static p => p.Percentile >= 50);
        Assert.Equal(500, median.Microseconds, 1.0);
    }

    [Fact]
    public void Distribution_OfAnEmptyHistogram_IsEmpty() => Assert.Empty(Pictures.Distribution(Hdr.Create()));

    [Fact]
    public void StatsSample_SumsTheVersions()
    {
        var json = """{"model_stats":[{"name":"m","version":"1","inference_count":10,"execution_count":4,"queue_depth":2},{"name":"m","version":"2","inference_count":6,"execution_count":1}]}"""u8;

        var sample = StatsSampler.Parse(42, json);

        Assert.Equal(new StatsSample(42, 16, 5, 2), sample);
    }

    [Fact]
    public void BatchSizes_AreRowsPerExecutionBetweenReadings()
    {
        var second = Stopwatch.Frequency;
        StatsSample[] samples = [new(0, 0, 0, 0), new(second, 32, 4, 0), new(2 * second, 32, 4, 0), new(3 * second, 35, 7, 0)];

        var points = StatsSampler.BatchSizes(samples, origin: second);

        // The interval without executions draws no point; times are from the origin, at each interval's middle.
        Assert.Equal([(-0.5, 8.0), (1.5, 1.0)], points);
    }
}
