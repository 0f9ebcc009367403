using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Google.Protobuf;

namespace Gateway.Load;

/// <summary>
/// Runs nghttp2's <c>h2load</c> (Debian's nghttp2-client), one client in C for both protocols:
/// HTTP/1.1 for the binary scenarios, HTTP/2 cleartext for the gRPC ones. The runner's own gRPC
/// client (Grpc.Net.Client on SocketsHttpHandler) pays its HTTP/2 costs in the figures it records;
/// with one client for both sides, a gRPC against REST ratio says what the server does.
/// Percentiles come from h2load's per-request log (<c>--log-file</c>), recorded into the runner's histogram.
/// </summary>
internal static class H2loadCrossCheck
{
    /// <summary>The scenarios it can send: a binary-extension or gRPC request (wrk sends the JSON ones).</summary>
    public static bool Sends(Scenario scenario) => scenario.GrpcRequest is not null || scenario.HeaderLength is not null;

    /// <summary>
    /// One closed run: <paramref name="connections"/> connections, one request in flight on each,
    /// a warm-up run first (not recorded), then <paramref name="seconds"/> recorded.
    /// </summary>
    public static async Task<CrossCheckResult> RunAsync(string h2load, Scenario scenario, Uri restAddress, Uri grpcAddress, int connections, double warmupSeconds, double seconds, string outDirectory)
    {
        var grpc = scenario.GrpcRequest is not null;
        var body = Path.Combine(outDirectory, $"h2load-{scenario.Name}.body");
        await File.WriteAllBytesAsync(body, grpc ? GrpcFrame(scenario.GrpcRequest!) : scenario.Body.ToArray());
        var url = new Uri(grpc ? grpcAddress : restAddress, scenario.Path).ToString();
        var log = Path.Combine(outDirectory, $"h2load-{scenario.Name}-c{connections}.log");

        if (warmupSeconds > 0)
        {
            await RunH2loadAsync(h2load, Arguments(scenario, body, url, connections, warmupSeconds, log: null));
        }

        // gRPC answers a failed call with HTTP 200 and the status in its trailers, which h2load
        // does not read: the model's own count of successes, read around the run, tells them apart.
        var model = scenario.GrpcRequest?.ModelName;
        var before = model is not null ? await SuccessesAsync(restAddress, model) : null;
        // h2load appends to its log: a log left by an earlier round would be counted again.
        File.Delete(log);
        var output = await RunH2loadAsync(h2load, Arguments(scenario, body, url, connections, seconds, log));
        await File.WriteAllTextAsync(Path.Combine(outDirectory, $"h2load-{scenario.Name}-c{connections}.txt"), output);

        // The runner's own histogram, so both clients' percentiles are read the same way.
        var latency = Hdr.Create();
        long statusErrors = 0;
        foreach (var line in await File.ReadAllLinesAsync(log))
        {
            // start time (µs since the epoch), HTTP status (-1 when none came), elapsed µs
            var fields = line.Split('\t');
            if (fields.Length < 3)
            {
                continue;
            }

            Hdr.Record(latency, long.Parse(fields[2], CultureInfo.InvariantCulture) * 1000);
            statusErrors += fields[1] == "200" ? 0 : 1;
        }

        var errors = statusErrors;
        if (before is not null && await SuccessesAsync(restAddress, model!) is { } after)
        {
            // Requests still in flight when h2load stopped may have succeeded after the log closed,
            // so the difference is a lower bound of the failures (off by at most one per connection).
            errors = Math.Max(statusErrors, latency.TotalCount - (after - before.Value));
        }

        return new CrossCheckResult
        {
            Tool = "h2load",
            Scenario = scenario,
            Connections = connections,
            Latency = Percentiles.Of(latency),
            Requests = latency.TotalCount,
            Seconds = seconds,
            Errors = errors,
            // A server without the statistics extension (the framework's floor) cannot say.
            GrpcErrorsUncounted = grpc && before is null,
        };
    }

    /// <summary>The gRPC message as sent on the wire: uncompressed flag, big-endian length, protobuf.</summary>
    internal static byte[] GrpcFrame(IMessage message)
    {
        var frame = new byte[5 + message.CalculateSize()];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)(frame.Length - 5));
        message.WriteTo(frame.AsSpan(5));
        return frame;
    }

    private static List<string> Arguments(Scenario scenario, string body, string url, int connections, double seconds, string? log)
    {
        var args = new List<string>
        {
            "-c", connections.ToString(CultureInfo.InvariantCulture), "-m", "1", "-t", "1",
            "-D", Math.Max(1, (int)Math.Round(seconds)).ToString(CultureInfo.InvariantCulture),
            "-d", body,
        };
        if (scenario.GrpcRequest is not null)
        {
            args.AddRange(["-H", "content-type: application/grpc", "-H", "te: trailers"]);
        }
        else
        {
            args.AddRange(["--h1", "-H", "content-type: application/octet-stream", "-H", "inference-header-content-length: " + scenario.HeaderLength]);
        }

        if (log is not null)
        {
            args.Add("--log-file=" + log);
        }

        args.Add(url);
        return args;
    }

    private static async Task<string> RunH2loadAsync(string h2load, List<string> args)
    {
        var info = new ProcessStartInfo(h2load) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start h2load");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout + await stderr;
        return process.ExitCode == 0 ? output : throw new InvalidOperationException($"h2load exited with {process.ExitCode}: {output}");
    }

    /// <summary>The model's successful requests so far (all versions); null when the server has no statistics for it.</summary>
    internal static async Task<long?> SuccessesAsync(Uri restAddress, string model)
    {
        using var client = new HttpClient { BaseAddress = restAddress };
        using var response = await client.GetAsync($"/v2/models/{model}/stats");
        if (!response.IsSuccessStatusCode)
        {
            return null;
        }

        using var document = JsonDocument.Parse(await response.Content.ReadAsStreamAsync());
        long count = 0;
        foreach (var version in document.RootElement.GetProperty("model_stats").EnumerateArray())
        {
            count += version.GetProperty("inference_stats").GetProperty("success").GetProperty("count").GetInt64();
        }

        return count;
    }
}
