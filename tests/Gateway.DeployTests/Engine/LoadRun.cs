using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;

namespace Gateway.DeployTests.Engine;

/// <summary>
/// A constant rate of inference requests to one address (open model: each request is sent at its
/// scheduled time, whether or not earlier ones were answered), every outcome counted: the status
/// code, or what went wrong on the connection. Used while a fault is injected into the stack.
/// </summary>
internal sealed class LoadRun : IAsyncDisposable
{
    /// <summary>Requests outstanding above which the next ones are counted as not sent.</summary>
    private const int MaxOutstanding = 4_000;

    private readonly HttpClient _client;
    private readonly string _path;
    private readonly byte[] _body;
    private readonly double _rate;
    private readonly Thread _dispatcher;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, long> _outcomes = new(StringComparer.Ordinal);
    private readonly SortedDictionary<long, SortedDictionary<string, long>> _bySecond = [];
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;
    private long _sent;
    private long _answered;
    private long _notSent;
    private long _outstanding = 1;

    private LoadRun(Uri address, string bearer, string path, string body, double rate)
    {
        _client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            MaxConnectionsPerServer = 256,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        })
        {
            BaseAddress = address,
            // Longer than any wait the stack may impose on a request (a Redis timeout, a retry on the other replica).
            Timeout = TimeSpan.FromSeconds(20),
        };
        _client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        _path = path;
        _body = Encoding.UTF8.GetBytes(body);
        _rate = rate;
        _dispatcher = new Thread(Dispatch) { IsBackground = true, Name = "load dispatcher" };
    }

    /// <summary>Seconds since the load started.</summary>
    public double Elapsed => _clock.Elapsed.TotalSeconds;

    public static LoadRun Start(Uri address, string bearer, string path, string body, double rate)
    {
        var run = new LoadRun(address, bearer, path, body, rate);
        run._dispatcher.Start();
        return run;
    }

    /// <summary>Stops sending, waits for the answers still due, and returns the counts.</summary>
    public async Task<LoadTotals> StopAsync()
    {
        _stopping = true;
        _dispatcher.Join();
        if (Interlocked.Decrement(ref _outstanding) == 0)
        {
            _drained.TrySetResult();
        }

        await Task.WhenAny(_drained.Task, Task.Delay(TimeSpan.FromSeconds(30)));
        lock (_lock)
        {
            return new LoadTotals(
                Interlocked.Read(ref _sent),
                Interlocked.Read(ref _answered),
                Interlocked.Read(ref _notSent),
                _clock.Elapsed.TotalSeconds,
                new SortedDictionary<string, long>(_outcomes, StringComparer.Ordinal),
                _bySecond.ToDictionary(static p => p.Key, static p => new SortedDictionary<string, long>(p.Value, StringComparer.Ordinal)));
        }
    }

    /// <summary>Waits (by the clock) until the load has run for <paramref name="seconds"/>.</summary>
    public async Task RunUntilAsync(double seconds)
    {
        var wait = TimeSpan.FromSeconds(seconds) - _clock.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping)
        {
            await StopAsync();
        }

        _client.Dispose();
    }

    private void Dispatch()
    {
        var period = 1.0 / _rate;
        long next = 0;
        while (!_stopping)
        {
            // Everything due by now: a late wake-up sends the backlog at once, keeping the rate.
            var due = (long)(_clock.Elapsed.TotalSeconds / period);
            for (; next <= due && !_stopping; next++)
            {
                if (Interlocked.Read(ref _outstanding) > MaxOutstanding)
                {
                    Interlocked.Increment(ref _notSent);
                    continue;
                }

                Interlocked.Increment(ref _outstanding);
                Interlocked.Increment(ref _sent);
                _ = SendAsync();
            }

            Thread.Sleep(1);
        }
    }

    private async Task SendAsync()
    {
        string outcome;
        try
        {
            using var content = new ByteArrayContent(_body);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            using var response = await _client.PostAsync(_path, content);
            _ = await response.Content.ReadAsByteArrayAsync();
            outcome = ((int)response.StatusCode).ToString(CultureInfo.InvariantCulture);
        }
        catch (TaskCanceledException)
        {
            outcome = "timeout";
        }
        catch (HttpRequestException ex)
        {
            outcome = ex.InnerException is SocketException socket ? "socket " + socket.SocketErrorCode : "connection " + (ex.HttpRequestError.ToString());
        }

        var second = (long)_clock.Elapsed.TotalSeconds;
        lock (_lock)
        {
            _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;
            if (!_bySecond.TryGetValue(second, out var counts))
            {
                _bySecond[second] = counts = new SortedDictionary<string, long>(StringComparer.Ordinal);
            }

            counts[outcome] = counts.GetValueOrDefault(outcome) + 1;
        }

        Interlocked.Increment(ref _answered);
        if (Interlocked.Decrement(ref _outstanding) == 0)
        {
            _drained.TrySetResult();
        }
    }
}

/// <summary>What a load run saw: requests sent, answered, not sent, and every outcome, in all and per second.</summary>
internal sealed record LoadTotals(long Sent, long Answered, long NotSent, double Seconds, SortedDictionary<string, long> Outcomes, Dictionary<long, SortedDictionary<string, long>> BySecond)
{
    /// <summary>Requests answered 200.</summary>
    public long Ok => Outcomes.GetValueOrDefault("200");

    /// <summary>Requests sent but never answered by the end (still outstanding 30 s after the last was sent).</summary>
    public long Unanswered => Sent - Answered;

    /// <summary>Any answer 500 or above except 503 (the documented outage answer).</summary>
    public long ServerErrors => Outcomes.Where(static o => int.TryParse(o.Key, out var code) && code >= 500 && code != 503).Sum(static o => o.Value);

    /// <summary>Outcomes other than 200: "503: 812, socket ConnectionRefused: 3".</summary>
    public string Failures => string.Join(", ", Outcomes.Where(static o => o.Key != "200").Select(static o => $"{o.Key}: {o.Value}")) is { Length: > 0 } text ? text : "none";

    /// <summary>The seconds in which something other than 200 came back, as ranges: "5-17 s (503)".</summary>
    public string FailureWindows
    {
        get
        {
            var windows = new List<string>();
            long? start = null;
            long last = 0;
            var kinds = new SortedSet<string>(StringComparer.Ordinal);
            foreach (var (second, counts) in BySecond.OrderBy(static p => p.Key))
            {
                var bad = counts.Keys.Where(static k => k != "200").ToList();
                if (bad.Count > 0 && start is not null && second == last + 1)
                {
                    kinds.UnionWith(bad);
                    last = second;
                }
                else if (bad.Count > 0)
                {
                    Flush();
                    start = last = second;
                    kinds = new SortedSet<string>(bad, StringComparer.Ordinal);
                }
                else
                {
                    Flush();
                }
            }

            Flush();
            return windows.Count == 0 ? "none" : string.Join("; ", windows);

            void Flush()
            {
                if (start is not null)
                {
                    windows.Add($"{start}-{last + 1} s ({string.Join(", ", kinds)})");
                    start = null;
                }
            }
        }
    }

    /// <summary>One row of the RUNBOOK's fault tables.</summary>
    public string Row(string fault, string lostWrites) => string.Create(CultureInfo.InvariantCulture,
        $"| {fault} | {Sent} in {Seconds:F0} s | {Answered} | {Ok} | {Failures} | {Unanswered + NotSent} | {lostWrites} |");

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"sent {Sent} in {Seconds:F1} s ({Sent / Seconds:F0}/s), answered {Answered}, 200: {Ok}, failed: {Failures}, not sent: {NotSent}, unanswered: {Unanswered}; failures in {FailureWindows}");
}
