using System.Globalization;
using System.Xml.Linq;
using HdrHistogram;

namespace Gateway.Load;

/// <summary>
/// The run as pictures: latency by percentile (HdrHistogram's percentile distribution on the
/// plotter's log "1/(1-percentile)" axis), requests per second over time, and the batch sizes the
/// server formed over time. Each picture is one inline SVG; <see cref="Html"/> puts them in one
/// self-contained page (no scripts, no external files), and <see cref="Charts"/> gives them one by
/// one for standalone .svg files. Built with System.Xml.Linq, so the output is always well-formed.
/// </summary>
internal static class Pictures
{
    /// <summary>Points per halving of the distance to 100%, as in the .hgrm files (OutputPercentileDistribution).</summary>
    public const int TicksPerHalfDistance = 5;

    public static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    public static readonly XNamespace Xhtml = "http://www.w3.org/1999/xhtml";

    // Okabe-Ito: told apart by most colour-blind readers, by scenario so a scenario keeps its colour in every picture.
    private static readonly string[] Palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#999999"];

    private static readonly string[] SummaryHeader = ["scenario", "load", "requests", "rps", "p50 µs", "p99 µs", "max µs", "errors"];

    private static CultureInfo Inv => CultureInfo.InvariantCulture;

    /// <summary>One picture: a file-friendly name and its SVG element.</summary>
    internal sealed record Chart(string Name, string Title, XElement Svg);

    /// <summary>One point of a latency curve: the percentile (0-100) and the value in microseconds, as the .hgrm file has them.</summary>
    internal readonly record struct PercentilePoint(double Percentile, double Microseconds, long TotalCount);

    /// <summary>The points of <paramref name="histogram"/>'s percentile distribution, as OutputPercentileDistribution iterates it.</summary>
    public static List<PercentilePoint> Distribution(HistogramBase histogram)
    {
        var points = new List<PercentilePoint>();
        if (histogram.TotalCount == 0)
        {
            return points;
        }

        foreach (var value in histogram.Percentiles(TicksPerHalfDistance))
        {
            points.Add(new PercentilePoint(value.PercentileLevelIteratedTo, histogram.HighestEquivalentValue(value.ValueIteratedTo) / 1000.0, value.TotalCountToThisValue));
        }

        return points;
    }

    /// <summary>Every picture of the report, in page order.</summary>
    public static List<Chart> Charts(LoadReport report)
    {
        var charts = new List<Chart>();
        foreach (var (load, runs) in Groups(report))
        {
            charts.Add(LatencyChart(load, runs));
        }

        foreach (var (load, runs) in Groups(report))
        {
            if (RpsChart(load, runs) is { } chart)
            {
                charts.Add(chart);
            }
        }

        foreach (var (load, runs) in Groups(report))
        {
            if (BatchChart(load, runs) is { } chart)
            {
                charts.Add(chart);
            }
        }

        return charts;
    }

    /// <summary>The whole page: heading, what was run, every picture, and the summary table.</summary>
    public static XDocument Html(LoadReport report)
    {
        var o = report.Options;
        var charts = Charts(report);
        var body = new XElement(
            Xhtml + "body",
            new XElement(Xhtml + "h1", "Gateway load run" + (o.Label.Length > 0 ? ": " + o.Label : string.Empty)),
            new XElement(
                Xhtml + "ul",
                new XElement(Xhtml + "li", string.Create(Inv, $"Date (UTC): {report.StartedUtc:yyyy-MM-dd HH:mm}")),
                new XElement(Xhtml + "li", "Command: ", new XElement(Xhtml + "code", "Gateway.Load " + o.CommandLine)),
                new XElement(Xhtml + "li", "Machine: " + MachineInfo.Describe()),
                new XElement(Xhtml + "li", "Binary: ", new XElement(Xhtml + "code", Path.GetFullPath(o.Binary)), " " + MachineInfo.Size(o.Binary)),
                new XElement(Xhtml + "li", string.Create(Inv, $"Each run: {o.WarmupSeconds:0.#} s warm-up, {o.DurationSeconds:0.#} s measured; the pictures over time show round 1 of {report.Rounds}, the latency curves merge every round."))));

        var sections = new (string Prefix, string Heading, string Text)[]
        {
            ("latency", "Latency by percentile", "One curve per scenario: the HdrHistogram percentile distribution of the measured requests (the same points as the .hgrm files). The x axis is 1/(1 - percentile) on a log scale, as HdrHistogram's plotter draws it; the y axis is log-scaled too, so scenarios that differ a hundredfold share a picture."),
            ("rps", "Requests per second over time", string.Create(Inv, $"Completed requests per {Collector.BucketSeconds:0.##} s bucket of the measured window, scaled to a second.")),
            ("batch", "Batch sizes over time", string.Create(Inv, $"Rows per execution the server formed, from its statistics (inference_count / execution_count) read every {Collector.BucketSeconds:0.##} s during the run; the warm-up shows at negative times.")),
        };
        foreach (var (prefix, heading, text) in sections)
        {
            var mine = charts.FindAll(c => c.Name.StartsWith(prefix + "-", StringComparison.Ordinal));
            if (mine.Count == 0)
            {
                continue;
            }

            body.Add(new XElement(Xhtml + "h2", heading), new XElement(Xhtml + "p", text));
            foreach (var chart in mine)
            {
                body.Add(new XElement(Xhtml + "figure", new XAttribute("id", chart.Name), new XElement(chart.Svg)));
            }
        }

        body.Add(new XElement(Xhtml + "h2", "Results"), SummaryTable(report));
        return new XDocument(
            new XDocumentType("html", null, null, null),
            new XElement(
                Xhtml + "html",
                new XAttribute("lang", "en"),
                new XElement(
                    Xhtml + "head",
                    new XElement(Xhtml + "meta", new XAttribute("charset", "utf-8")),
                    new XElement(Xhtml + "title", "Gateway load run" + (o.Label.Length > 0 ? ": " + o.Label : string.Empty)),
                    new XElement(Xhtml + "style", "body{font-family:sans-serif;margin:1.5em;max-width:980px}figure{margin:1em 0}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child,td:nth-child(2),th{text-align:left}")),
                body));
    }

    /// <summary>The page as text (XHTML syntax, so an XML parser reads it too); the SVG inside keeps its own namespace declaration.</summary>
    public static string HtmlText(LoadReport report) => "<!DOCTYPE html>\n" + Html(report).Root!.ToString(SaveOptions.None) + "\n";

    /// <summary>A standalone .svg file for one picture.</summary>
    public static string SvgText(Chart chart) => new XDocument(new XDeclaration("1.0", "utf-8", null), chart.Svg).ToString(SaveOptions.None) + "\n";

    /// <summary>Runs grouped by load: "closed xN" for each caller count, and "open" for the open-model runs (each scenario at its own rate).</summary>
    private static List<(string Load, List<RunResult> Runs)> Groups(LoadReport report)
    {
        var groups = new List<(string, List<RunResult>)>();
        foreach (var callers in report.Runs.Where(static r => r.Model == "closed").Select(static r => r.Callers).Distinct().Order())
        {
            groups.Add(($"closed x{callers}", report.Runs.FindAll(r => r.Model == "closed" && r.Callers == callers)));
        }

        var open = report.Runs.FindAll(static r => r.Model == "open");
        if (open.Count > 0)
        {
            groups.Add(("open", open));
        }

        return groups;
    }

    private static string FileName(string prefix, string load) => prefix + "-" + load.Replace(' ', '-');

    private static string ColorOf(Scenario scenario)
    {
        var index = Array.IndexOf(ScenarioCatalog.Names, scenario.Name);
        return Palette[(index < 0 ? 0 : index) % Palette.Length];
    }

    private static string LegendOf(RunResult run) => run.Model == "open" ? string.Create(Inv, $"{run.Scenario.Name} ({run.Rate:0}/s)") : run.Scenario.Name;

    private static Chart LatencyChart(string load, List<RunResult> runs)
    {
        var series = new List<Series>();
        foreach (var scenario in runs.Select(static r => r.Scenario).Distinct())
        {
            var mine = runs.FindAll(r => r.Scenario == scenario);
            HistogramBase merged = mine[0].Data.Latency;
            if (mine.Count > 1)
            {
                merged = mine[0].Data.Latency.Copy();
                foreach (var run in mine.Skip(1))
                {
                    merged.Add(run.Data.Latency);
                }
            }

            var points = Distribution(merged);
            if (points.Count == 0)
            {
                continue;
            }

            // 100% has no place on a 1/(1 - p) axis: the plotter puts the maximum at one in TotalCount.
            var xs = points.ConvertAll(p => p.Percentile >= 100 ? Math.Log10(Math.Max(10, merged.TotalCount)) : Math.Log10(100 / (100 - p.Percentile)));
            series.Add(new Series(
                LegendOf(mine[0]),
                ColorOf(scenario),
                [.. xs.Zip(points, static (x, p) => (x, p.Microseconds))],
                [
                    new XAttribute("data-scenario", scenario.Name),
                    new XAttribute("data-count", merged.TotalCount.ToString(Inv)),
                    new XAttribute("data-percentiles", string.Join(' ', points.Select(static p => p.Percentile.ToString("R", Inv)))),
                    new XAttribute("data-us", string.Join(' ', points.Select(static p => p.Microseconds.ToString("R", Inv)))),
                ]));
        }

        var decades = Math.Clamp((int)Math.Ceiling(series.Count == 0 ? 2 : series.Max(static s => s.Points[^1].X)), 2, 6);
        var xTicks = new List<(double, string)>();
        for (var d = 0; d <= decades; d++)
        {
            xTicks.Add((d, d == 0 ? "0%" : (100 - Math.Pow(10, 2 - d)).ToString("0.#####", Inv) + "%"));
        }

        var x = new Axis("percentile", 0, decades, Log: false, xTicks);
        var y = Axis.LogAuto("latency", series.SelectMany(static s => s.Points.Select(static p => p.Y)), Microseconds);
        var title = $"Latency by percentile, {load}";
        return new Chart(FileName("latency", load), title, Render(title, x, y, series));
    }

    private static Chart? RpsChart(string load, List<RunResult> runs)
    {
        var series = new List<Series>();
        foreach (var run in runs.Where(static r => r.Round == 1))
        {
            var buckets = run.Data.Completions;

            // Only whole buckets inside the measured window: a last partial one would read low.
            var whole = Math.Min(buckets.Count, (int)Math.Floor(run.Seconds / Collector.BucketSeconds));
            if (whole == 0)
            {
                continue;
            }

            var points = new List<(double X, double Y)>();
            for (var i = 0; i < whole; i++)
            {
                points.Add(((i + 0.5) * Collector.BucketSeconds, buckets[i] / Collector.BucketSeconds));
            }

            series.Add(new Series(LegendOf(run), ColorOf(run.Scenario), points, [new XAttribute("data-scenario", run.Scenario.Name), Values("data-rps", points)]));
        }

        if (series.Count == 0)
        {
            return null;
        }

        var x = Axis.Linear("seconds into the measured window", 0, runs.Max(static r => r.Seconds), static v => v.ToString("0.#", Inv));
        var values = series.SelectMany(static s => s.Points.Select(static p => p.Y)).Where(static v => v > 0).ToList();
        var y = values.Count > 0 && values.Max() / values.Min() > 30
            ? Axis.LogAuto("requests per second", values, Count)
            : Axis.Linear("requests per second", 0, values.DefaultIfEmpty(1).Max() * 1.1, Count);
        var title = $"Requests per second over time, {load}";
        return new Chart(FileName("rps", load), title, Render(title, x, y, series));
    }

    private static Chart? BatchChart(string load, List<RunResult> runs)
    {
        var series = new List<Series>();
        foreach (var run in runs.Where(static r => r.Round == 1 && r.Stats.Count > 1))
        {
            var points = StatsSampler.BatchSizes(run.Stats, run.Data.Origin);
            if (points.Count > 0)
            {
                series.Add(new Series(LegendOf(run), ColorOf(run.Scenario), points, [new XAttribute("data-scenario", run.Scenario.Name), Values("data-rows", points)]));
            }
        }

        if (series.Count == 0)
        {
            return null;
        }

        var from = Math.Min(0, series.Min(static s => s.Points[0].X));
        var to = Math.Max(runs.Max(static r => r.Seconds), series.Max(static s => s.Points[^1].X));
        var x = Axis.Linear("seconds into the measured window", Math.Floor(from), Math.Ceiling(to), static v => v.ToString("0.#", Inv));
        var y = Axis.Linear("rows per execution (mean)", 0, Math.Max(2, Math.Ceiling(series.Max(static s => s.Points.Max(static p => p.Y)) * 1.1)), static v => v.ToString("0.#", Inv));
        var title = $"Batch sizes over time, {load}";
        return new Chart(FileName("batch", load), title, Render(title, x, y, series));
    }

    /// <summary>The plotted values of a curve over time, as "seconds:value" pairs.</summary>
    private static XAttribute Values(string name, List<(double X, double Y)> points) =>
        new(name, string.Join(' ', points.Select(static p => p.X.ToString("0.###", Inv) + ":" + p.Y.ToString("R", Inv))));

    private static string Count(double n) => n switch
    {
        >= 1_000_000 => (n / 1_000_000).ToString("0.##", Inv) + "M",
        >= 1_000 => (n / 1_000).ToString("0.##", Inv) + "k",
        _ => n.ToString("0.##", Inv),
    };

    private static string Microseconds(double us) => us switch
    {
        >= 1_000_000 => (us / 1_000_000).ToString("0.###", Inv) + " s",
        >= 1_000 => (us / 1_000).ToString("0.###", Inv) + " ms",
        _ => us.ToString("0.###", Inv) + " µs",
    };

    /// <summary>One curve: its legend, colour, points in data units, and data-* attributes for readers and tests.</summary>
    private sealed record Series(string Name, string Color, List<(double X, double Y)> Points, XAttribute[] Data);

    /// <summary>An axis from <c>Min</c> to <c>Max</c> in plotted units (log10 of the value when <c>Log</c>), with labelled ticks.</summary>
    private sealed record Axis(string Label, double Min, double Max, bool Log, List<(double At, string Text)> Ticks)
    {
        public double Position(double value) => Log ? Math.Log10(Math.Max(value, 1e-9)) : value;

        public static Axis Linear(string label, double min, double max, Func<double, string> format)
        {
            max = max > min ? max : min + 1;
            var step = NiceStep((max - min) / 6);
            var ticks = new List<(double, string)>();
            for (var v = Math.Ceiling(min / step) * step; v <= max + step * 1e-9; v += step)
            {
                ticks.Add((v, format(v)));
            }

            return new Axis(label, min, max, Log: false, ticks);
        }

        /// <summary>Whole decades around the values, ticks at 1, 2 and 5 of each.</summary>
        public static Axis LogAuto(string label, IEnumerable<double> values, Func<double, string> format)
        {
            var positive = values.Where(static v => v > 0).ToList();
            var low = positive.Count == 0 ? 0 : Math.Floor(Math.Log10(positive.Min()));
            var high = positive.Count == 0 ? 1 : Math.Ceiling(Math.Log10(positive.Max()));
            high = Math.Max(high, low + 1);
            var ticks = new List<(double, string)>();
            for (var d = low; d <= high; d++)
            {
                foreach (var m in (double[])[1, 2, 5])
                {
                    var value = m * Math.Pow(10, d);
                    var at = Math.Log10(value);
                    if (at <= high + 1e-9)
                    {
                        ticks.Add((at, m == 1 || high - low <= 2 ? format(value) : string.Empty));
                    }
                }
            }

            return new Axis(label, low, high, Log: true, ticks);
        }

        private static double NiceStep(double raw)
        {
            var magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
            var fraction = raw / magnitude;
            return (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10) * magnitude;
        }
    }

    private static XElement Render(string title, Axis x, Axis y, List<Series> series)
    {
        const double Width = 800, Height = 380, Left = 78, Right = 240, Top = 34, Bottom = 52;
        const double PlotWidth = Width - Left - Right, PlotHeight = Height - Top - Bottom;
        double Px(double v) => Left + ((v - x.Min) / (x.Max - x.Min) * PlotWidth);
        // A value outside the axis (a zero on a log axis) is drawn on the plot's edge, not off the picture.
        double Py(double v) => Top + PlotHeight - (Math.Clamp((y.Position(v) - y.Min) / (y.Max - y.Min), 0, 1) * PlotHeight);
        static string F(double v) => v.ToString("0.#", Inv);

        var svg = new XElement(
            Svg + "svg",
            new XAttribute("width", F(Width)),
            new XAttribute("height", F(Height)),
            new XAttribute("viewBox", $"0 0 {F(Width)} {F(Height)}"),
            new XAttribute("font-family", "sans-serif"),
            new XAttribute("font-size", "12"),
            new XElement(Svg + "title", title),
            new XElement(Svg + "rect", new XAttribute("width", F(Width)), new XAttribute("height", F(Height)), new XAttribute("fill", "white")),
            new XElement(Svg + "text", new XAttribute("x", F(Left)), new XAttribute("y", "20"), new XAttribute("font-size", "14"), new XAttribute("font-weight", "bold"), title));

        var grid = new XElement(Svg + "g", new XAttribute("class", "grid"), new XAttribute("stroke", "#ddd"));
        var labels = new XElement(Svg + "g", new XAttribute("class", "ticks"), new XAttribute("fill", "#333"));
        foreach (var (at, text) in x.Ticks)
        {
            var px = Px(at);
            grid.Add(Line(px, Top, px, Top + PlotHeight));
            labels.Add(new XElement(Svg + "text", new XAttribute("x", F(px)), new XAttribute("y", F(Top + PlotHeight + 16)), new XAttribute("text-anchor", "middle"), text));
        }

        foreach (var (at, text) in y.Ticks)
        {
            var py = Top + PlotHeight - ((at - y.Min) / (y.Max - y.Min) * PlotHeight);
            grid.Add(Line(Left, py, Left + PlotWidth, py));
            if (text.Length > 0)
            {
                labels.Add(new XElement(Svg + "text", new XAttribute("x", F(Left - 6)), new XAttribute("y", F(py + 4)), new XAttribute("text-anchor", "end"), text));
            }
        }

        svg.Add(
            grid,
            labels,
            new XElement(Svg + "rect", new XAttribute("x", F(Left)), new XAttribute("y", F(Top)), new XAttribute("width", F(PlotWidth)), new XAttribute("height", F(PlotHeight)), new XAttribute("fill", "none"), new XAttribute("stroke", "#333")),
            new XElement(Svg + "text", new XAttribute("x", F(Left + (PlotWidth / 2))), new XAttribute("y", F(Height - 12)), new XAttribute("text-anchor", "middle"), x.Label + (x.Log ? " (log)" : string.Empty)),
            new XElement(Svg + "text", new XAttribute("transform", $"translate(16 {F(Top + (PlotHeight / 2))}) rotate(-90)"), new XAttribute("text-anchor", "middle"), y.Label + (y.Log ? " (log)" : string.Empty)));

        var curves = new XElement(Svg + "g", new XAttribute("class", "curves"), new XAttribute("fill", "none"), new XAttribute("stroke-width", "2"));
        var legend = new XElement(Svg + "g", new XAttribute("class", "legend"));
        for (var i = 0; i < series.Count; i++)
        {
            var s = series[i];
            var points = string.Join(' ', s.Points.Select(p => F2(Px(p.X)) + "," + F2(Py(p.Y))));
            curves.Add(new XElement(Svg + "polyline", new XAttribute("class", "curve"), new XAttribute("stroke", s.Color), new XAttribute("points", points), s.Data, new XElement(Svg + "title", s.Name)));
            var ly = Top + 8 + (i * 18);
            legend.Add(
                Line(Left + PlotWidth + 12, ly, Left + PlotWidth + 32, ly, s.Color, 3),
                new XElement(Svg + "text", new XAttribute("x", F(Left + PlotWidth + 38)), new XAttribute("y", F(ly + 4)), s.Name));
        }

        svg.Add(curves, legend);
        return svg;

        static string F2(double v) => v.ToString("0.##", Inv);
    }

    private static XElement Line(double x1, double y1, double x2, double y2, string? stroke = null, double width = 1)
    {
        var line = new XElement(
            Svg + "line",
            new XAttribute("x1", x1.ToString("0.##", Inv)),
            new XAttribute("y1", y1.ToString("0.##", Inv)),
            new XAttribute("x2", x2.ToString("0.##", Inv)),
            new XAttribute("y2", y2.ToString("0.##", Inv)));
        if (stroke is not null)
        {
            line.Add(new XAttribute("stroke", stroke), new XAttribute("stroke-width", width.ToString("0.#", Inv)));
        }

        return line;
    }

    private static XElement SummaryTable(LoadReport report)
    {
        var table = new XElement(
            Xhtml + "table",
            new XElement(Xhtml + "tr", SummaryHeader.Select(static h => new XElement(Xhtml + "th", h))));
        foreach (var run in report.Runs)
        {
            var p = Percentiles.Of(run.Data.Latency);
            table.Add(new XElement(
                Xhtml + "tr",
                new[] { run.Scenario.Name, run.Load, run.Data.Requests.ToString(Inv), run.Rps.ToString("0", Inv), Percentiles.Format(p.P50), Percentiles.Format(p.P99), Percentiles.Format(p.Max), run.ErrorCount.ToString(Inv) }
                    .Select(static v => new XElement(Xhtml + "td", v))));
        }

        return table;
    }
}
