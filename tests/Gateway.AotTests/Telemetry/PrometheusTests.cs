using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.AotTests.Telemetry;

/// <summary>
/// <c>/metrics</c> of the AOT binary passes <c>promtool check metrics</c>, and a real Prometheus
/// server (Debian's package, on loopback, in a throwaway directory) scrapes it and answers a
/// histogram quantile through its HTTP API.
/// </summary>
public sealed class PrometheusTests
{
    private const string Identity = """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}""";

    [Fact]
    public async Task Metrics_PassPromtool_AndHoldNoClientChosenLabels()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var gateway = AotGateway.Start(repository);
        await gateway.WaitReadyAsync();
        for (var i = 0; i < 5; i++)
        {
            using var ok = await gateway.Client.PostAsync("/v2/models/identity/infer", new StringContent(Identity, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var unknown = await gateway.Client.PostAsync("/v2/models/no-such-model-7f3a/infer", new StringContent(Identity)))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        using (var stray = await gateway.Client.GetAsync("/some/raw/path-9c1e?user=alice"))
        {
            Assert.Equal(HttpStatusCode.NotFound, stray.StatusCode);
        }

        var text = await gateway.Client.GetStringAsync("/metrics");
        var (exit, output) = await RunAsync(Tool("promtool"), text, "check", "metrics");
        Assert.True(exit == 0, $"promtool check metrics failed ({exit}):\n{output}");

        foreach (var family in new[]
        {
            "gateway_http_request_duration_seconds_bucket{method=\"POST\",route=\"/v2/models/{model}/infer\",code=\"200\"",
            "gateway_inference_duration_seconds_bucket{model=\"identity\",version=\"1\",phase=\"queue\"",
            "gateway_inference_duration_seconds_bucket{model=\"identity\",version=\"1\",phase=\"compute\"",
            "gateway_inference_duration_seconds_count{model=\"identity\",version=\"1\",phase=\"total\"} 5",
            "gateway_inference_batch_size_count{model=\"identity\",version=\"1\"}",
            "gateway_inference_requests_total{model=\"identity\",version=\"1\",outcome=\"success\"} 5",
            "gateway_rejected_requests_total{reason=\"rate_limited\"} 0",
            "gateway_inference_queue_depth{model=\"identity\",version=\"1\"} 0",
            "gateway_inference_in_flight{model=\"identity\",version=\"1\"} 0",
            "gateway_model_load_duration_seconds{model=\"identity\",version=\"1\"}",
            "gateway_model_versions_loaded 1",
            "process_cpu_seconds_total",
            "dotnet_gc_allocated_bytes_total",
        })
        {
            Assert.Contains(family, text);
        }

        // An unknown model and a raw path are counted under fixed labels, never their own.
        Assert.DoesNotContain("no-such-model-7f3a", text);
        Assert.DoesNotContain("path-9c1e", text);
        Assert.DoesNotContain("alice", text);
        Assert.Contains("route=\"/v2/models/{model}/infer\",code=\"404\"", text);
    }

    [Fact]
    public async Task Prometheus_ScrapesTheGateway_AndAnswersAHistogramQuantile()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        var metricsPort = FreePort.Next();
        // The management listener, open to the scraper (in production a network policy guards it).
        await using var gateway = AotGateway.Start(repository, "--Telemetry:Metrics:Url", $"http://127.0.0.1:{metricsPort}", "--Telemetry:Metrics:RequiredRole", "open");
        await gateway.WaitReadyAsync();

        var directory = Directory.CreateTempSubdirectory("prometheus-");
        var prometheusPort = FreePort.Next();
        File.WriteAllText(Path.Combine(directory.FullName, "prometheus.yml"), $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: gateway
                static_configs:
                  - targets: ['127.0.0.1:{metricsPort}']
            """);
        using var prometheus = Process.Start(new ProcessStartInfo(Tool("prometheus"))
        {
            ArgumentList =
            {
                $"--config.file={Path.Combine(directory.FullName, "prometheus.yml")}",
                $"--storage.tsdb.path={Path.Combine(directory.FullName, "data")}",
                $"--web.listen-address=127.0.0.1:{prometheusPort}",
                "--log.level=warn",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var log = new StringBuilder();
        prometheus.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        prometheus.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        prometheus.BeginOutputReadLine();
        prometheus.BeginErrorReadLine();
        try
        {
            using var api = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{prometheusPort}"), Timeout = TimeSpan.FromSeconds(10) };
            Assert.True(await PollAsync(async () => await QueryAsync(api, "up{job=\"gateway\"}") == 1), "Prometheus never scraped the gateway:\n" + log);

            // Traffic across several scrapes, so the rate over the window has two samples apart; paced
            // under the admin's rate limit (1000/s).
            var until = DateTime.UtcNow.AddSeconds(3);
            while (DateTime.UtcNow < until)
            {
                using var response = await gateway.Client.PostAsync("/v2/models/identity/infer", new StringContent(Identity, Encoding.UTF8, "application/json"));
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                await Task.Delay(2);
            }

            const string Quantile = "histogram_quantile(0.5, sum by (le) (rate(gateway_inference_duration_seconds_bucket{model=\"identity\",phase=\"total\"}[30s])))";
            double? median = null;
            Assert.True(await PollAsync(async () => (median = await QueryAsync(api, Quantile)) is > 0), $"no quantile from Prometheus (last {median}):\n{log}");
            // identity answers in well under a second: the median falls in one of the small buckets.
            Assert.InRange(median!.Value, 1e-6, 0.5);
        }
        finally
        {
            prometheus.Kill();
            await prometheus.WaitForExitAsync();
            directory.Delete(recursive: true);
        }
    }

    /// <summary>Runs an instant query; the first sample's value, or null when the result is empty or not a number.</summary>
    private static async Task<double?> QueryAsync(HttpClient api, string query)
    {
        try
        {
            using var json = JsonDocument.Parse(await api.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query)));
            var result = json.RootElement.GetProperty("data").GetProperty("result");
            if (result.GetArrayLength() == 0)
            {
                return null;
            }

            var value = result[0].GetProperty("value")[1].GetString();
            return double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) ? number : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static async Task<bool> PollAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(250);
        }

        return false;
    }

    /// <summary>A tool from Debian's prometheus package; fails clearly when it is not installed.</summary>
    internal static string Tool(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':'))
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        Assert.Fail($"{name} is not installed: apt-get install prometheus (./build.sh test does)");
        return name;
    }

    internal static async Task<(int Exit, string Output)> RunAsync(string tool, string input, params string[] args)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await stdout + await stderr);
    }
}
