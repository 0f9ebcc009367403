using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Gateway.Load;

namespace Gateway.Demo;

/// <summary>One RSS sample of every replica, with the client's counts at that moment.</summary>
internal sealed record RssSample(double Seconds, long[] RssBytes, long Sent, long Answered, long Errors);

/// <summary>
/// The soak: a constant request rate through nginx for a fixed time (open model: each request
/// has a scheduled send time and its latency counts from it, so a stall is not hidden by the
/// client waiting), a mix of the three models with API keys, every answer counted by status, and
/// each replica's RSS sampled from /proc at regular intervals.
/// </summary>
internal sealed partial class Soak(DemoOptions options, Output output)
{
    private const int PR_SET_TIMERSLACK = 29;

    /// <summary>Requests outstanding above which the dispatcher stops sending and counts the rest as not sent.</summary>
    private const int MaxOutstanding = 2_000;

    private const double MiB = 1024 * 1024;

    public async Task<bool> RunAsync(InferRequest identity, InferRequest mobilenet, InferRequest bert)
    {
        var seconds = options.SoakSeconds;
        var warmup = options.WarmupSeconds;
        var rate = options.SoakRate;
        var interval = Math.Clamp(seconds / 60.0, 1, 10);
        output.Heading(string.Create(CultureInfo.InvariantCulture,
            $"6. soak: {warmup} s of warm-up, then {seconds} s, at {rate:0} requests/s through nginx (16 in 20 {identity.Label}, 3 {mobilenet.Label}, 1 {bert.Label}), RSS every {interval:0.#} s"));
        output.Line("  (the warm-up's answers count as errors too; its latencies and RSS growth do not: model arenas grow to the batch shapes seen)");

        var (admin, _) = await Api.LoginAsync(options.Nginx, "admin", options.AdminPassword);
        using var adminClient = Api.Client(options.Nginx, admin);
        // API keys do not expire as the 15-minute access tokens do: a long soak needs no refresh.
        var workerKey = (await Api.RequireAsync(adminClient, HttpMethod.Post, "/v1/keys", Api.Json(("name", "demo-soak-worker"), ("role", "worker")))).GetProperty("key").GetString()!;
        var supervisorKey = (await Api.RequireAsync(adminClient, HttpMethod.Post, "/v1/keys", Api.Json(("name", "demo-soak-supervisor"), ("role", "supervisor")))).GetProperty("key").GetString()!;
        using var asWorker = Api.Client(options.Nginx, workerKey, connections: 64);
        using var asSupervisor = Api.Client(options.Nginx, supervisorKey, connections: 16);

        // bert_tiny is for supervisors (its access list); the worker key sends the rest.
        var slots = new (InferRequest Request, HttpClient Client)[20];
        for (var i = 0; i < slots.Length; i++)
        {
            slots[i] = i == 0 ? (bert, asSupervisor) : i is 5 or 12 or 18 ? (mobilenet, asWorker) : (identity, asWorker);
        }

        var collectors = new Dictionary<string, Collector>(StringComparer.Ordinal)
        {
            [identity.Label] = new(),
            [mobilenet.Label] = new(),
            [bert.Label] = new(),
        };
        long sent = 0, answered = 0, errors = 0, notSent = 0, outstanding = 1;
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var warmupCollector = new Collector();
        var total = (long)Math.Round((warmup + seconds) * rate);
        var period = Stopwatch.Frequency / rate;
        var start = Stopwatch.GetTimestamp() + Hdr.SecondsToTicks(0.05);
        var measureFrom = start + Hdr.SecondsToTicks(warmup);

        async Task SendAsync(InferRequest request, HttpClient client, long scheduled)
        {
            Outcome outcome;
            try
            {
                using var message = request.Create();
                using var response = await client.SendAsync(message, HttpCompletionOption.ResponseContentRead);
                var body = await response.Content.ReadAsByteArrayAsync();
                outcome = new Outcome((int)response.StatusCode, body.Length, null, null);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                outcome = new Outcome(0, 0, null, ex.GetType().Name);
            }

            var done = Stopwatch.GetTimestamp();
            var collector = scheduled < measureFrom ? warmupCollector : collectors[request.Label];
            lock (collector)
            {
                collector.Record(outcome, Hdr.TicksToNanoseconds(done - scheduled), done);
            }

            Interlocked.Increment(ref answered);
            if (outcome.Status != 200)
            {
                Interlocked.Increment(ref errors);
            }

            if (Interlocked.Decrement(ref outstanding) == 0)
            {
                finished.TrySetResult();
            }
        }

        var dispatcher = new Thread(() =>
        {
            _ = prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0);
            for (long i = 0; i < total; i++)
            {
                var scheduled = start + (long)(i * period);
                long now;
                while ((now = Stopwatch.GetTimestamp()) < scheduled)
                {
                    // A microsecond sleep with a 1 µs timer slack: on time without spinning on cores the stack needs.
                    _ = usleep((uint)Math.Max(1, (scheduled - now) * 1_000_000 / Stopwatch.Frequency));
                }

                if (Interlocked.Read(ref outstanding) > MaxOutstanding)
                {
                    Interlocked.Increment(ref notSent);
                    continue;
                }

                Interlocked.Increment(ref outstanding);
                Interlocked.Increment(ref sent);
                var (request, client) = slots[i % slots.Length];
                _ = SendAsync(request, client, scheduled);
            }

            if (Interlocked.Decrement(ref outstanding) == 0)
            {
                finished.TrySetResult();
            }
        })
        {
            IsBackground = true,
            Name = "soak dispatcher",
        };

        var samples = new List<RssSample>();
        output.Line($"  {"t (s)",6} {"sent",9} {"answered",9} {"errors",6}  " + string.Join("  ", options.Replicas.Select(static r => $"{"rss " + r.Name + " (MiB)",13}")));
        void Sample(double at)
        {
            var sample = new RssSample(at, options.Replicas.Select(static r => Rss(r.Pid)).ToArray(), Interlocked.Read(ref sent), Interlocked.Read(ref answered), Interlocked.Read(ref errors));
            samples.Add(sample);
            var rss = string.Join("  ", sample.RssBytes.Select(static b => (b / MiB).ToString("0.0", CultureInfo.InvariantCulture).PadLeft(13)));
            output.Line(string.Create(CultureInfo.InvariantCulture, $"  {sample.Seconds,6:0} {sample.Sent,9} {sample.Answered,9} {sample.Errors,6}  {rss}"));
        }

        // Times are from the end of the warm-up: negative during it.
        var times = new List<double> { -warmup };
        for (var at = 0.0; at <= seconds + 1e-9; at += interval)
        {
            times.Add(at);
        }

        dispatcher.Start();
        var clock = Stopwatch.StartNew();
        foreach (var at in times.Distinct())
        {
            var wait = TimeSpan.FromSeconds(at + warmup) - clock.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait);
            }

            Sample(at);
        }

        if (await Task.WhenAny(finished.Task, Task.Delay(TimeSpan.FromSeconds(60))) != finished.Task)
        {
            output.Line($"  {Interlocked.Read(ref sent) - Interlocked.Read(ref answered)} requests still unanswered 60 s after the last was sent");
        }

        var elapsed = clock.Elapsed.TotalSeconds;
        var sentTotal = Interlocked.Read(ref sent);
        return await ReportAsync(collectors, warmupCollector, samples, sentTotal, Interlocked.Read(ref notSent), sentTotal - Interlocked.Read(ref answered), elapsed);
    }

    private async Task<bool> ReportAsync(Dictionary<string, Collector> collectors, Collector warmup, List<RssSample> samples, long sent, long notSent, long unanswered, double elapsed)
    {
        var all = new Collector();
        foreach (var collector in collectors.Values)
        {
            all.Add(collector);
        }

        var everything = new Collector();
        everything.Add(all);
        everything.Add(warmup);
        var failed = everything.Requests - everything.Ok + notSent + unanswered;
        var seconds = options.WarmupSeconds + options.SoakSeconds;
        output.Heading("soak figures");
        output.Line(string.Create(CultureInfo.InvariantCulture,
            $"  requests: {sent} sent in {seconds} s ({sent / (double)seconds:0.0}/s; {warmup.Requests} in the warm-up, {all.Requests} in the soak), {everything.Requests} answered, {everything.Ok} with 200"));
        var byStatus = everything.Errors.Count == 0 ? "none" : string.Join(", ", everything.Errors.Select(static e => $"{e.Key}: {e.Value}"));
        output.Line($"  errors: {failed} (by status: {byStatus}; not sent because {MaxOutstanding} were outstanding: {notSent}; unanswered at the end: {unanswered})");
        output.Line($"  latency from each request's scheduled send, client side through nginx, soak without warm-up (µs):");
        output.Line($"    {"request",-24} {"count",8} {"p50",8} {"p90",8} {"p99",8} {"p99.9",8} {"max",8}");
        foreach (var (label, collector) in collectors.Append(new("all", all)))
        {
            var p = Percentiles.Of(collector.Latency);
            output.Line(string.Create(CultureInfo.InvariantCulture,
                $"    {label,-24} {p.Count,8} {Percentiles.Format(p.P50),8} {Percentiles.Format(p.P90),8} {Percentiles.Format(p.P99),8} {Percentiles.Format(p.P999),8} {Percentiles.Format(p.Max),8}"));
        }

        // Flat: what each replica gains over the second half of the soak, once pools, arenas and
        // the GC's budgets have settled; medians of three samples at either end smooth a GC cycle.
        var soakSamples = samples.FindAll(static s => s.Seconds >= 0);
        var half = soakSamples.Count / 2;
        var flat = true;
        output.Line($"  memory (RSS, MiB): flat = less than {options.FlatMiB:0.#} MiB gained from the middle of the soak to its end");
        output.Line($"    {"replica",-8} {"before",8} {"start",8} {"middle",8} {"end",8} {"2nd half",9} {"min",8} {"max",8}  verdict");
        for (var r = 0; r < options.Replicas.Count; r++)
        {
            var before = samples[0].RssBytes[r] / MiB;
            var series = soakSamples.ConvertAll(s => s.RssBytes[r] / MiB);
            var from = Math.Max(0, half - 1);
            var middle = Median(series.GetRange(from, Math.Min(3, series.Count - from)));
            var end = Median(series.GetRange(Math.Max(0, series.Count - 3), Math.Min(3, series.Count)));
            var growth = end - middle;
            var ok = growth < options.FlatMiB;
            flat &= ok;
            var secondHalf = series.GetRange(half, series.Count - half);
            output.Line(string.Create(CultureInfo.InvariantCulture,
                $"    {options.Replicas[r].Name,-8} {before,8:0.0} {series[0],8:0.0} {middle,8:0.0} {end,8:0.0} {growth,9:+0.0;-0.0} {secondHalf.Min(),8:0.0} {secondHalf.Max(),8:0.0}  {(ok ? "flat" : "GROWING")}"));
        }

        await PrometheusAsync(elapsed);
        var passed = failed == 0 && flat;
        output.Line();
        output.Line(passed
            ? $"soak passed: {everything.Ok} requests, 0 errors, memory flat on every replica"
            : $"soak FAILED: {failed} errors, memory {(flat ? "flat" : "growing")}");
        return passed;
    }

    private async Task PrometheusAsync(double elapsed)
    {
        // Let one more scrape (every 10 s) see the end of the soak.
        await Task.Delay(TimeSpan.FromSeconds(12));
        var window = string.Create(CultureInfo.InvariantCulture, $"{Math.Ceiling(elapsed + 12):0}s");
        using var prometheus = Api.Client(options.Prometheus);
        output.Line("  the replicas' own view (Prometheus, over the soak):");
        foreach (var query in new[]
        {
            $"sum by (instance) (increase(gateway_inference_requests_total{{outcome=\"success\"}}[{window}]))",
            $"sum by (instance) (increase(gateway_inference_requests_total{{outcome!=\"success\"}}[{window}]))",
            $"histogram_quantile(0.99, sum by (model, le) (rate(gateway_inference_duration_seconds_bucket{{phase=\"total\"}}[{window}])))",
            $"sum by (model) (rate(gateway_inference_batch_size_sum[{window}])) / sum by (model) (rate(gateway_inference_batch_size_count[{window}]))",
        })
        {
            output.Line($"    {query}");
            var json = await Api.RequireAsync(prometheus, HttpMethod.Get, "/api/v1/query?query=" + Uri.EscapeDataString(query));
            foreach (var series in json.GetProperty("data").GetProperty("result").EnumerateArray())
            {
                var labels = string.Join(", ", series.GetProperty("metric").EnumerateObject().Select(static l => $"{l.Name}={l.Value.GetString()}"));
                output.Line($"      {{{labels}}} {Round(series.GetProperty("value")[1])}");
            }
        }
    }

    private static string Round(JsonElement value) =>
        double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number)
            ? number.ToString(Math.Abs(number) < 1 ? "0.######" : "0.##", CultureInfo.InvariantCulture)
            : value.GetString() ?? string.Empty;

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>VmRSS of a process in bytes, from /proc; 0 once it is gone.</summary>
    private static long Rss(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int usleep(uint microseconds);
}
