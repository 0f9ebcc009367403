using System.Text;
using Gateway.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;
using Prometheus;

namespace Gateway.Tests.Telemetry;

/// <summary>The metrics object on its own: children per model version, rejections, GPU absence, options.</summary>
public sealed class GatewayMetricsTests
{
    [Fact]
    public async Task ReloadedVersion_ContinuesTheSameSeries()
    {
        using var metrics = new GatewayMetrics(new TelemetryOptions(), NullLogger<GatewayMetrics>.Instance);
        metrics.ForModel("m", "1", "onnx", "cpu").Executed(4);
        metrics.ForModel("m", "1", "onnx", "cpu").Executed(8);
        var text = await ExportAsync(metrics.Registry);
        Assert.Contains("gateway_inference_batch_size_count{model=\"m\",version=\"1\"} 2", text);
        Assert.Contains("gateway_inference_batch_size_sum{model=\"m\",version=\"1\"} 12", text);
    }

    [Fact]
    public async Task Rejections_CountedByReason_AllReasonsPresentFromTheStart()
    {
        using var metrics = new GatewayMetrics(new TelemetryOptions(), NullLogger<GatewayMetrics>.Instance);
        metrics.Unauthorised();
        metrics.Unauthorised();
        metrics.RateLimited();
        var text = await ExportAsync(metrics.Registry);
        Assert.Contains("gateway_rejected_requests_total{reason=\"unauthorised\"} 2", text);
        Assert.Contains("gateway_rejected_requests_total{reason=\"rate_limited\"} 1", text);
        foreach (var reason in GatewayMetrics.ReasonLabels)
        {
            Assert.Contains($"gateway_rejected_requests_total{{reason=\"{reason}\"}}", text);
        }
    }

    [Fact]
    public async Task AbsentNvml_IsNotAnError_AndExportsNoGpuSeries()
    {
        var options = new TelemetryOptions { Gpu = new GpuSettings { Library = "libnvidia-ml-absent-for-this-test.so.1" } };
        using var metrics = new GatewayMetrics(options, NullLogger<GatewayMetrics>.Instance);
        Assert.False(metrics.HasGpu);
        Assert.DoesNotContain("gateway_gpu_", await ExportAsync(metrics.Registry));
    }

    [Fact]
    public async Task GpuSeries_ExistExactlyWhenNvmlLoads()
    {
        using var metrics = new GatewayMetrics(new TelemetryOptions(), NullLogger<GatewayMetrics>.Instance);
        var present = System.Runtime.InteropServices.NativeLibrary.TryLoad("libnvidia-ml.so.1", out var handle);
        if (present)
        {
            System.Runtime.InteropServices.NativeLibrary.Free(handle);
        }

        // On a machine with a driver and a GPU the series are there, on one without they are not.
        Assert.Equal(present, metrics.HasGpu);
        Assert.Equal(present, (await ExportAsync(metrics.Registry)).Contains("gateway_gpu_memory_total_bytes{gpu=\"0\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Disabled_RegistersNothing()
    {
        using var metrics = new GatewayMetrics(new TelemetryOptions { Metrics = new MetricsSettings { Enabled = false } }, NullLogger<GatewayMetrics>.Instance);
        metrics.ForModel("m", "1", "onnx", "cpu").Executed(1);
        metrics.Unauthorised();
        Assert.False(metrics.PrometheusEnabled);
        Assert.Equal(string.Empty, (await ExportAsync(metrics.Registry)).Trim());
    }

    [Theory]
    [InlineData("LogFormat", "xml", "Telemetry:LogFormat")]
    [InlineData("Url", "http://0.0.0.0", "Telemetry:Metrics:Url")]
    [InlineData("Url", "https://0.0.0.0:9464", "Telemetry:Metrics:Url")]
    [InlineData("Url", "http://0.0.0.0:9464/metrics", "Telemetry:Metrics:Url")]
    [InlineData("RequiredRole", "root", "Telemetry:Metrics:RequiredRole")]
    [InlineData("InferenceBuckets", "0.1,0.01", "Telemetry:Metrics:InferenceBuckets")]
    [InlineData("HttpBuckets", "-1", "Telemetry:Metrics:HttpBuckets")]
    [InlineData("StallSeconds", "0", "Telemetry:Health:StallSeconds")]
    public void BadSetting_NamesItsKey(string setting, string value, string key)
    {
        var options = new TelemetryOptions();
        switch (setting)
        {
            case "LogFormat":
                options.LogFormat = value;
                break;
            case "Url":
                options.Metrics.Url = value;
                break;
            case "RequiredRole":
                options.Metrics.RequiredRole = value;
                break;
            case "InferenceBuckets":
                options.Metrics.InferenceBuckets = Array.ConvertAll(value.Split(','), v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case "HttpBuckets":
                options.Metrics.HttpBuckets = [double.Parse(value, System.Globalization.CultureInfo.InvariantCulture)];
                break;
            case "StallSeconds":
                options.Health.StallSeconds = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                break;
        }

        Assert.StartsWith(key + " ", options.Validate());
    }

    [Fact]
    public void Defaults_AreValid() => Assert.Null(new TelemetryOptions().Validate());

    [Theory]
    [InlineData("abc-123", true)]
    [InlineData("00f067aa0ba902b7:req/7+x=y@z_1.2", true)]
    [InlineData("", false)]
    [InlineData("has space", false)]
    [InlineData("line\nbreak", false)]
    [InlineData("quote\"d", false)]
    [InlineData("ünïcode", false)]
    public void CorrelationIds_OnlyWellFormedOnesAreKept(string id, bool kept) => Assert.Equal(kept, TelemetryMiddleware.IsWellFormed(id));

    [Theory]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736")]
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "4bf92f3577b34da6a3ce929d0e0e4736")]
    [InlineData("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", null)] // W3C: lower-case hex only
    [InlineData("00-00000000000000000000000000000000-00f067aa0ba902b7-01", null)] // the invalid all-zero id
    [InlineData("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", null)] // one digit short
    [InlineData("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", null)]
    [InlineData("garbage", null)]
    public void CorrelationIds_WithoutASpan_FallBackToTheCallersTraceId(string traceparent, string? expected)
    {
        var headers = new Microsoft.AspNetCore.Http.HeaderDictionary { ["traceparent"] = traceparent };
        Assert.Equal(expected, TelemetryMiddleware.CallersTraceId(headers));
    }

    [Fact]
    public void CorrelationIds_LongerThan128_AreReplaced()
    {
        Assert.True(TelemetryMiddleware.IsWellFormed(new string('a', 128)));
        Assert.False(TelemetryMiddleware.IsWellFormed(new string('a', 129)));
    }

    private static async Task<string> ExportAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
