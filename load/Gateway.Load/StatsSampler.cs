using System.Diagnostics;
using System.Text.Json;

namespace Gateway.Load;

/// <summary>One reading of a model's counters (summed over its versions) at a Stopwatch timestamp.</summary>
internal readonly record struct StatsSample(long Timestamp, long Inferences, long Executions, int QueueDepth);

/// <summary>
/// Reads <c>GET /v2/models/{model}/stats</c> every <see cref="Collector.BucketSeconds"/> while a
/// run goes on, so the report can show the batch sizes the server formed over time (inferences per
/// execution between two readings). One small GET per interval on its own connection: a few
/// requests per second next to the thousands the run sends.
/// </summary>
internal sealed class StatsSampler : IAsyncDisposable
{
    private readonly HttpClient _client;
    private readonly string _path;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<StatsSample> _samples = [];
    private readonly Task _loop;

    private StatsSampler(Uri baseAddress, string model)
    {
        _client = LoadModels.CreateClient(baseAddress, 1);
        _path = $"/v2/models/{model}/stats";
        _loop = Task.Run(LoopAsync);
    }

    public static StatsSampler Start(Uri baseAddress, string model) => new(baseAddress, model);

    /// <summary>Takes one last reading and returns them all, oldest first.</summary>
    public async Task<List<StatsSample>> StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        if (await ReadAsync(CancellationToken.None) is { } last)
        {
            _samples.Add(last);
        }

        return _samples;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
            await _loop;
        }

        _client.Dispose();
        _stop.Dispose();
    }

    /// <summary>Mean rows per execution between consecutive readings, at the middle of each interval (seconds from <paramref name="origin"/>).</summary>
    public static List<(double Seconds, double Batch)> BatchSizes(IReadOnlyList<StatsSample> samples, long origin)
    {
        var points = new List<(double, double)>();
        for (var i = 1; i < samples.Count; i++)
        {
            var executions = samples[i].Executions - samples[i - 1].Executions;
            if (executions <= 0)
            {
                continue;
            }

            var middle = (samples[i].Timestamp + samples[i - 1].Timestamp) / 2;
            points.Add(((middle - origin) / (double)Stopwatch.Frequency, (samples[i].Inferences - samples[i - 1].Inferences) / (double)executions));
        }

        return points;
    }

    /// <summary>Parses a statistics answer: counters summed over the versions listed.</summary>
    public static StatsSample Parse(long timestamp, ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        long inferences = 0, executions = 0;
        var depth = 0;
        foreach (var version in document.RootElement.GetProperty("model_stats").EnumerateArray())
        {
            inferences += version.GetProperty("inference_count").GetInt64();
            executions += version.GetProperty("execution_count").GetInt64();
            depth += version.TryGetProperty("queue_depth", out var queue) ? queue.GetInt32() : 0;
        }

        return new StatsSample(timestamp, inferences, executions, depth);
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(Collector.BucketSeconds));
        try
        {
            do
            {
                if (await ReadAsync(_stop.Token) is { } sample)
                {
                    _samples.Add(sample);
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<StatsSample?> ReadAsync(CancellationToken cancellation)
    {
        try
        {
            var timestamp = Stopwatch.GetTimestamp();
            var body = await _client.GetByteArrayAsync(_path, cancellation);
            return Parse(timestamp, body);
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            // A model without statistics (or a failed reading) leaves a gap in the picture, not a failed run.
            return null;
        }
    }
}
