using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using Gateway.Grpc.V2;
using Grpc.Core;
using Grpc.Net.Client;

namespace Gateway.Load;

/// <summary>One measured run of a scenario.</summary>
internal sealed class RunResult
{
    public required Scenario Scenario { get; init; }

    /// <summary><c>closed</c> or <c>open</c>.</summary>
    public required string Model { get; init; }

    /// <summary>Closed: the callers. Open: the connections it may use.</summary>
    public required int Callers { get; init; }

    /// <summary>Open: the scheduled requests per second; 0 for closed.</summary>
    public double Rate { get; init; }

    public required double Seconds { get; init; }

    public required Collector Data { get; init; }

    /// <summary>Open: requests not sent because too many were outstanding.</summary>
    public long NotSent { get; init; }

    /// <summary>Completed requests per second over the measured window.</summary>
    public double Rps => Data.Requests / Seconds;

    /// <summary>Which round of --repeat this run belongs to, from 1.</summary>
    public int Round { get; set; } = 1;

    /// <summary>Reads like <c>closed x16</c> or <c>open 2000/s</c>, with <c>#2</c> for later rounds.</summary>
    public string Load => (Model == "closed" ? $"closed x{Callers}" : $"open {Rate:0}/s") + (Round > 1 ? $" #{Round}" : string.Empty);

    public long ErrorCount => Data.Requests - Data.Ok + NotSent;

    /// <summary>How the cores were used over the run, warm-up included.</summary>
    public CpuUse Cpu { get; set; }

    /// <summary>The model's statistics sampled during the run (warm-up included), for the batch-size picture; empty when not sampled.</summary>
    public List<StatsSample> Stats { get; set; } = [];
}

/// <summary>
/// The closed model (N callers, each sending its next request when the last one is answered)
/// and the open model (requests scheduled at a constant rate whatever the answers do, latency
/// counted from each request's scheduled time so coordinated omission is not hidden).
/// </summary>
internal static partial class LoadModels
{
    private const int PR_SET_TIMERSLACK = 29;

    /// <summary>Outstanding requests above which the open model stops sending and counts the rest as not sent.</summary>
    private const int MaxOutstanding = 20_000;

    public static HttpClient CreateClient(Uri baseAddress, int connections) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        })
        {
            BaseAddress = baseAddress,
            Timeout = TimeSpan.FromSeconds(30),
        };

    /// <summary>N callers, each on its own pooled connection, back to back for warm-up plus duration.</summary>
    public static async Task<RunResult> RunClosedAsync(Scenario scenario, Uri baseAddress, int callers, double warmupSeconds, double durationSeconds)
    {
        if (scenario.GrpcRequest is not null)
        {
            return await RunClosedGrpcAsync(scenario, baseAddress, callers, warmupSeconds, durationSeconds);
        }

        var clients = new HttpClient[callers];
        for (var i = 0; i < callers; i++)
        {
            clients[i] = CreateClient(baseAddress, 1);
        }

        try
        {
            var start = Stopwatch.GetTimestamp();
            var measureFrom = start + Hdr.SecondsToTicks(warmupSeconds);
            var stopAt = measureFrom + Hdr.SecondsToTicks(durationSeconds);
            var tasks = new Task<Collector>[callers];
            for (var i = 0; i < callers; i++)
            {
                var client = clients[i];
                tasks[i] = Task.Run(() => CallerAsync(client, scenario, measureFrom, stopAt));
            }

            var total = new Collector(measureFrom);
            foreach (var collector in await Task.WhenAll(tasks))
            {
                total.Add(collector);
            }

            return new RunResult { Scenario = scenario, Model = "closed", Callers = callers, Seconds = durationSeconds, Data = total };
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    /// <summary>The closed model over gRPC: each caller on its own channel (its own HTTP/2 connection), as each REST caller has its own connection.</summary>
    private static async Task<RunResult> RunClosedGrpcAsync(Scenario scenario, Uri grpcAddress, int callers, double warmupSeconds, double durationSeconds)
    {
        var channels = new GrpcChannel[callers];
        for (var i = 0; i < callers; i++)
        {
            channels[i] = GrpcChannel.ForAddress(grpcAddress, new GrpcChannelOptions { MaxReceiveMessageSize = null });
        }

        try
        {
            var start = Stopwatch.GetTimestamp();
            var measureFrom = start + Hdr.SecondsToTicks(warmupSeconds);
            var stopAt = measureFrom + Hdr.SecondsToTicks(durationSeconds);
            var tasks = new Task<Collector>[callers];
            for (var i = 0; i < callers; i++)
            {
                var client = new GRPCInferenceService.GRPCInferenceServiceClient(channels[i]);
                tasks[i] = Task.Run(() => GrpcCallerAsync(client, scenario.GrpcRequest!, measureFrom, stopAt));
            }

            var total = new Collector(measureFrom);
            foreach (var collector in await Task.WhenAll(tasks))
            {
                total.Add(collector);
            }

            return new RunResult { Scenario = scenario, Model = "closed", Callers = callers, Seconds = durationSeconds, Data = total };
        }
        finally
        {
            foreach (var channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    private static async Task<Collector> GrpcCallerAsync(GRPCInferenceService.GRPCInferenceServiceClient client, ModelInferRequest request, long measureFrom, long stopAt)
    {
        var collector = new Collector(measureFrom);
        while (true)
        {
            var sent = Stopwatch.GetTimestamp();
            if (sent >= stopAt)
            {
                return collector;
            }

            Outcome outcome;
            try
            {
                var response = await client.ModelInferAsync(request);
                long bytes = 0;
                foreach (var raw in response.RawOutputContents)
                {
                    bytes += raw.Length;
                }

                // Recorded as HTTP 200, so the report's OK count reads the same for both protocols.
                outcome = new Outcome(200, bytes, null, null);
            }
            catch (RpcException ex)
            {
                outcome = new Outcome(0, 0, null, ex.StatusCode.ToString());
            }

            var done = Stopwatch.GetTimestamp();
            if (sent >= measureFrom)
            {
                collector.Record(outcome, Hdr.TicksToNanoseconds(done - sent), done);
            }
        }
    }

    private static async Task<Collector> CallerAsync(HttpClient client, Scenario scenario, long measureFrom, long stopAt)
    {
        var collector = new Collector(measureFrom);
        var drain = new byte[64 * 1024];
        while (true)
        {
            var sent = Stopwatch.GetTimestamp();
            if (sent >= stopAt)
            {
                return collector;
            }

            var outcome = await SendAsync(client, scenario, drain);
            var done = Stopwatch.GetTimestamp();
            if (sent >= measureFrom)
            {
                collector.Record(outcome, Hdr.TicksToNanoseconds(done - sent), done);
            }
        }
    }

    /// <summary>
    /// Requests at <paramref name="rate"/> per second from one dispatcher thread, over a pool of
    /// <paramref name="connections"/> connections. The dispatcher sleeps with a 1 µs timer slack
    /// until each request is due; any lateness is counted in the latency and reported as send lag.
    /// </summary>
    public static async Task<RunResult> RunOpenAsync(Scenario scenario, Uri baseAddress, double rate, int connections, double warmupSeconds, double durationSeconds)
    {
        using var client = CreateClient(baseAddress, connections);
        var gate = new Lock();
        var total = (long)Math.Round((warmupSeconds + durationSeconds) * rate);
        var interval = Stopwatch.Frequency / rate;
        var start = Stopwatch.GetTimestamp() + Hdr.SecondsToTicks(0.01);
        var measureFrom = start + Hdr.SecondsToTicks(warmupSeconds);
        var collector = new Collector(measureFrom);
        var outstanding = 1L;
        long notSent = 0;
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task SendOneAsync(long scheduled, long sent)
        {
            var drain = ArrayPool<byte>.Shared.Rent(16 * 1024);
            Outcome outcome;
            try
            {
                outcome = await SendAsync(client, scenario, drain);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(drain);
            }

            var done = Stopwatch.GetTimestamp();
            if (scheduled >= measureFrom)
            {
                lock (gate)
                {
                    collector.Record(outcome, Hdr.TicksToNanoseconds(done - scheduled), done);
                    Hdr.Record(collector.ServiceTime, Hdr.TicksToNanoseconds(done - sent));
                    Hdr.Record(collector.SendLag, Hdr.TicksToNanoseconds(sent - scheduled));
                }
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
                var scheduled = start + (long)(i * interval);
                var now = Stopwatch.GetTimestamp();
                if (scheduled > now)
                {
                    var micros = (uint)Math.Min(1_000_000, (scheduled - now) * 1e6 / Stopwatch.Frequency);
                    if (micros > 0)
                    {
                        _ = usleep(micros);
                    }

                    // The sleep was rounded down to whole microseconds: never send early.
                    while ((now = Stopwatch.GetTimestamp()) < scheduled)
                    {
                        Thread.SpinWait(20);
                    }
                }

                if (Interlocked.Read(ref outstanding) > MaxOutstanding)
                {
                    if (scheduled >= measureFrom)
                    {
                        Interlocked.Increment(ref notSent);
                    }

                    continue;
                }

                Interlocked.Increment(ref outstanding);
                _ = SendOneAsync(scheduled, now);
            }

            if (Interlocked.Decrement(ref outstanding) == 0)
            {
                finished.TrySetResult();
            }
        })
        {
            IsBackground = true,
            Name = "open-model dispatcher",
            Priority = ThreadPriority.AboveNormal,
        };
        dispatcher.Start();
        await finished.Task;

        // The measured window lasts until the last measured answer if the server fell behind.
        var seconds = Math.Max(durationSeconds, (collector.LastCompletion - measureFrom) / (double)Stopwatch.Frequency);
        return new RunResult { Scenario = scenario, Model = "open", Callers = connections, Rate = rate, Seconds = seconds, Data = collector, NotSent = notSent };
    }

    /// <summary>Sends one request and reads the whole answer; failures come back as status 0.</summary>
    public static async Task<Outcome> SendAsync(HttpClient client, Scenario scenario, byte[] drain)
    {
        using var request = scenario.CreateRequest();
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            long bytes = 0;
            using (var stream = await response.Content.ReadAsStreamAsync())
            {
                int read;
                while ((read = await stream.ReadAsync(drain)) > 0)
                {
                    bytes += read;
                }
            }

            string? timing = null;
            if (response.Headers.NonValidated.TryGetValues("Server-Timing", out var values))
            {
                timing = values.ToString();
            }

            return new Outcome((int)response.StatusCode, bytes, timing, null);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            return new Outcome(0, 0, null, ex.GetType().Name);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int usleep(uint microseconds);
}
