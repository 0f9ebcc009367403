using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Gateway.Load;

/// <summary>
/// Runs Debian's <c>wrk</c> (closed model, one thread) with a Lua script that sends the same
/// request as the runner and prints wrk's own percentiles, so the runner's figures can be
/// checked against an independent client.
/// </summary>
internal static class WrkCrossCheck
{
    public static async Task<CrossCheckResult> RunAsync(string wrk, Scenario scenario, Uri baseAddress, int connections, double seconds, string outDirectory)
    {
        var script = Path.Combine(outDirectory, $"wrk-{scenario.Name}.lua");
        await File.WriteAllTextAsync(script, Script(scenario));
        var info = new ProcessStartInfo(wrk)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
        {
            "-t1", $"-c{connections}", $"-d{Math.Max(1, (int)Math.Round(seconds))}s", "--timeout", "30s", "--latency",
            "-s", script, new Uri(baseAddress, scenario.Path).ToString(),
        })
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start wrk");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var output = await stdout;
        await File.WriteAllTextAsync(Path.Combine(outDirectory, $"wrk-{scenario.Name}-c{connections}.txt"), output + await stderr);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"wrk exited with {process.ExitCode}: {await stderr}");
        }

        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in output.Split('\n'))
        {
            var parts = line.Trim().Split(' ');
            if (parts.Length == 3 && parts[0] == "gw-wrk")
            {
                values[parts[1]] = double.Parse(parts[2], CultureInfo.InvariantCulture);
            }
        }

        double Get(string key) => values.TryGetValue(key, out var v) ? v : throw new InvalidOperationException($"wrk printed no {key}: {output}");
        var latency = new Percentiles((long)Get("requests"), Get("p50"), Get("p90"), Get("p99"), Get("p99.9"), Get("max"));
        return new CrossCheckResult
        {
            Tool = "wrk",
            Scenario = scenario,
            Connections = connections,
            Latency = latency,
            Requests = (long)Get("requests"),
            Seconds = Get("duration_us") / 1e6,
            Errors = (long)(Get("status_errors") + Get("socket_errors")),
        };
    }

    /// <summary>The request as a wrk script, with a done() that prints wrk's percentiles in µs.</summary>
    private static string Script(Scenario scenario)
    {
        var builder = new StringBuilder();
        builder.Append("wrk.method = \"").Append(scenario.Method.Method).Append("\"\n");
        if (!scenario.Body.IsEmpty)
        {
            var json = Encoding.UTF8.GetString(scenario.Body.Span);
            if (json.Contains("]==]", StringComparison.Ordinal) || json.Any(static c => c < ' '))
            {
                throw new InvalidOperationException($"{scenario.Name}: only JSON bodies can be sent with wrk");
            }

            builder.Append("wrk.headers[\"Content-Type\"] = \"application/json\"\n");
            builder.Append("wrk.body = [==[").Append(json).Append("]==]\n");
        }

        builder.Append("""
            done = function(summary, latency, requests)
              for _, p in ipairs({50, 90, 99, 99.9}) do
                io.write(string.format("gw-wrk p%g %d\n", p, latency:percentile(p)))
              end
              io.write(string.format("gw-wrk max %d\n", latency.max))
              io.write(string.format("gw-wrk requests %d\n", summary.requests))
              io.write(string.format("gw-wrk duration_us %d\n", summary.duration))
              io.write(string.format("gw-wrk status_errors %d\n", summary.errors.status))
              io.write(string.format("gw-wrk socket_errors %d\n", summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
            end

            """);
        return builder.ToString();
    }
}
