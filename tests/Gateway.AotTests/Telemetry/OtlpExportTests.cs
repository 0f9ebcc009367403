using System.Net;
using System.Text;
using Gateway.AotTests.Otlp;
using Gateway.Testing;
using Google.Protobuf;

namespace Gateway.AotTests.Telemetry;

/// <summary>
/// The AOT binary, configured only by OTEL_* environment variables, exports traces, metrics and
/// logs over OTLP/HTTP protobuf to a real receiver; the bytes are decoded with the OTLP schema and
/// checked: span names, kinds, attributes, parents and links, the resource, log records' trace
/// ids and the inference histogram.
/// </summary>
public sealed class OtlpExportTests
{
    private const string Identity = """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}""";

    [Fact]
    public async Task TracesMetricsAndLogs_ReachTheReceiver_AsOtlpProtobuf()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var repository = ReferenceModels.CreateRepository("identity");
        // "pair": identity batched two at a time, waiting up to 10 s for the second request.
        Directory.CreateDirectory(Path.Combine(repository, "pair", "1"));
        File.Copy(ReferenceModels.ModelFile("identity"), Path.Combine(repository, "pair", "1", "model.onnx"));
        File.WriteAllText(Path.Combine(repository, "pair", "config.json"), """
            { "max_batch_size": 8, "dynamic_batching": { "preferred_batch_size": [2], "max_queue_delay_microseconds": 10000000 } }
            """);
        var environment = Otlp(receiver);
        environment["OTEL_SERVICE_NAME"] = "gateway-under-test";
        environment["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=test";
        await using var gateway = AotGateway.Start(repository, environment);
        await gateway.WaitReadyAsync();

        // One unbatched request under a caller's trace.
        var (single, caller) = (NewTraceId(), NewSpanId());
        using (var response = await SendAsync(gateway, "identity", single, caller, "otlp-single"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("otlp-single", response.Headers.GetValues("X-Correlation-ID").Single());
        }

        // Two requests that execute as one batch.
        var (first, second) = (NewTraceId(), NewTraceId());
        var pair = await Task.WhenAll(SendAsync(gateway, "pair", first, NewSpanId(), "otlp-a"), SendAsync(gateway, "pair", second, NewSpanId(), "otlp-b"));
        Assert.All(pair, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.All(pair, response => Assert.Contains("queue;dur=", response.Headers.GetValues("Server-Timing").Single()));

        // A request that logs: the repository reloads identity and says so.
        var reload = NewTraceId();
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v2/repository/models/identity/load"))
        {
            request.Headers.Add("traceparent", $"00-{reload}-{NewSpanId()}-01");
            using var response = await gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await gateway.StopAsync();
        Assert.True(await LoopbackReceiver.WaitUntilAsync(() => receiver.Bodies("/v1/traces").Count > 0 && receiver.Bodies("/v1/logs").Count > 0 && receiver.Bodies("/v1/metrics").Count > 0, TimeSpan.FromSeconds(10)),
            $"expected traces, logs and metrics; got {receiver.Bodies("/v1/traces").Count}, {receiver.Bodies("/v1/logs").Count}, {receiver.Bodies("/v1/metrics").Count}\n{gateway.Output}");

        var traces = receiver.Bodies("/v1/traces").Select(ExportTraceServiceRequest.Parser.ParseFrom).SelectMany(r => r.ResourceSpans).ToList();
        var resource = traces[0].Resource;
        Assert.Equal("gateway-under-test", Attribute(resource.Attributes, "service.name")?.StringValue);
        Assert.Equal("test", Attribute(resource.Attributes, "deployment.environment")?.StringValue);
        var spans = traces.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToList();

        // The unbatched request: server span under the caller, the execution span under it.
        var server = Assert.Single(spans, s => Hex(s.TraceId) == single && s.Kind == Span.Types.SpanKind.Server);
        Assert.Equal("POST /v2/models/{model}/infer", server.Name);
        Assert.Equal(caller, Hex(server.ParentSpanId));
        Assert.Equal("/v2/models/{model}/infer", Attribute(server.Attributes, "http.route")?.StringValue);
        Assert.Equal(200, Attribute(server.Attributes, "http.response.status_code")?.IntValue);
        Assert.Equal("POST", Attribute(server.Attributes, "http.request.method")?.StringValue);
        Assert.Equal("/v2/models/identity/infer", Attribute(server.Attributes, "url.path")?.StringValue);
        Assert.Equal("http", Attribute(server.Attributes, "url.scheme")?.StringValue);
        Assert.Equal("1.1", Attribute(server.Attributes, "network.protocol.version")?.StringValue);
        Assert.Equal("identity", Attribute(server.Attributes, "gateway.model.name")?.StringValue);
        Assert.Equal("otlp-single", Attribute(server.Attributes, "gateway.correlation_id")?.StringValue);
        // identity ran inline on the request's thread: it never queued, so there is no wait to show.
        Assert.DoesNotContain(spans, s => Hex(s.TraceId) == single && s.Name == "gateway.queue");
        var execute = Assert.Single(spans, s => Hex(s.TraceId) == single && s.Name == "gateway.execute");
        Assert.Equal(Hex(server.SpanId), Hex(execute.ParentSpanId));
        Assert.Equal(Span.Types.SpanKind.Internal, execute.Kind);
        Assert.Equal(Hex(server.SpanId), Hex(Assert.Single(execute.Links).SpanId));
        Assert.Equal("identity", Attribute(execute.Attributes, "gateway.model.name")?.StringValue);
        Assert.Equal("1", Attribute(execute.Attributes, "gateway.model.version")?.StringValue);
        Assert.Equal("onnx", Attribute(execute.Attributes, "gateway.model.backend")?.StringValue);
        Assert.Equal("cpu", Attribute(execute.Attributes, "gateway.model.device")?.StringValue);
        Assert.Equal(1, Attribute(execute.Attributes, "gateway.batch.size")?.IntValue);
        Assert.True(execute.EndTimeUnixNano >= execute.StartTimeUnixNano && execute.StartTimeUnixNano >= server.StartTimeUnixNano);

        // The batch: one execution span of its own trace, linked to both requests' server spans.
        var pairServers = new[] { first, second }.Select(trace => Assert.Single(spans, s => Hex(s.TraceId) == trace && s.Kind == Span.Types.SpanKind.Server)).ToList();
        var batch = Assert.Single(spans, s => s.Name == "gateway.execute" && s.Links.Count == 2);
        Assert.True(batch.ParentSpanId.IsEmpty, "a batch of several requests has no single parent");
        Assert.DoesNotContain(Hex(batch.TraceId), new[] { first, second });
        Assert.Equal(
            pairServers.Select(s => (Hex(s.TraceId), Hex(s.SpanId))).OrderBy(x => x.Item1),
            batch.Links.Select(l => (Hex(l.TraceId), Hex(l.SpanId))).OrderBy(x => x.Item1));
        Assert.Equal(2, Attribute(batch.Attributes, "gateway.batch.size")?.IntValue);
        Assert.Equal(2, Attribute(batch.Attributes, "gateway.batch.requests")?.IntValue);
        Assert.Equal("pair", Attribute(batch.Attributes, "gateway.model.name")?.StringValue);
        foreach (var pairServer in pairServers)
        {
            var wait = Assert.Single(spans, s => s.TraceId == pairServer.TraceId && s.Name == "gateway.queue");
            Assert.Equal(pairServer.SpanId, wait.ParentSpanId);
            Assert.Equal(2, Attribute(wait.Attributes, "gateway.batch.size")?.IntValue);
            Assert.Equal("success", Attribute(wait.Attributes, "gateway.outcome")?.StringValue);
            Assert.InRange(wait.StartTimeUnixNano, pairServer.StartTimeUnixNano, wait.EndTimeUnixNano);
            Assert.InRange(wait.EndTimeUnixNano, batch.StartTimeUnixNano - 1_000_000, batch.EndTimeUnixNano);
        }

        // Logs: the reload's line carries the request's trace and the correlation id (its trace id).
        var records = receiver.Bodies("/v1/logs").Select(ExportLogsServiceRequest.Parser.ParseFrom)
            .SelectMany(r => r.ResourceLogs).SelectMany(r => r.ScopeLogs).SelectMany(s => s.LogRecords).ToList();
        var loaded = Assert.Single(records, r => Hex(r.TraceId) == reload && Body(r).Contains("Loaded model identity", StringComparison.Ordinal));
        Assert.Equal(8, loaded.SpanId.Length);
        Assert.Equal(9, loaded.SeverityNumber); // SEVERITY_NUMBER_INFO
        Assert.Equal(reload, Attribute(loaded.Attributes, "correlation_id")?.StringValue);
        Assert.Equal("identity", Attribute(loaded.Attributes, "Model")?.StringValue);

        // Metrics: the inference histogram by model and phase.
        var metrics = receiver.Bodies("/v1/metrics").Select(ExportMetricsServiceRequest.Parser.ParseFrom)
            .SelectMany(r => r.ResourceMetrics).SelectMany(r => r.ScopeMetrics).SelectMany(s => s.Metrics).ToList();
        var points = metrics.Where(m => m.Name == "gateway.inference.duration").SelectMany(m => m.Histogram.DataPoints).ToList();
        Assert.Contains(points, p => Attribute(p.Attributes, "gateway.model.name")?.StringValue == "identity"
            && Attribute(p.Attributes, "gateway.phase")?.StringValue == "total" && p.Count >= 1 && p.ExplicitBounds.Count == 16);
        Assert.Contains(metrics, m => m.Name == "http.server.request.duration");

        // Readiness was polled before any request: probes are never traced.
        Assert.DoesNotContain(spans, s => s.Name.Contains("health", StringComparison.Ordinal));
    }

    /// <summary>
    /// Sampling decides before anything is built: with roots never sampled, a request without a
    /// caller's trace leaves no span at all (neither the server span nor an execution span of
    /// its own trace), while a caller's sampled trace is followed through; and the correlation id
    /// of an untraced request is still the caller's trace id.
    /// </summary>
    [Fact]
    public async Task UnsampledRoots_LeaveNoSpans_SampledParentsAreFollowed()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var repository = ReferenceModels.CreateRepository("identity");
        var environment = Otlp(receiver);
        environment["OTEL_METRICS_EXPORTER"] = "none";
        environment["OTEL_LOGS_EXPORTER"] = "none";
        environment["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio";
        environment["OTEL_TRACES_SAMPLER_ARG"] = "0";
        await using var gateway = AotGateway.Start(repository, environment);
        await gateway.WaitReadyAsync();

        for (var i = 0; i < 20; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity/infer") { Content = new StringContent(Identity, Encoding.UTF8, "application/json") };
            using var response = await gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // A caller that traces but did not sample: no span, yet its trace id names the request.
        var unsampled = NewTraceId();
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity/infer") { Content = new StringContent(Identity, Encoding.UTF8, "application/json") })
        {
            request.Headers.Add("traceparent", $"00-{unsampled}-{NewSpanId()}-00");
            using var response = await gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(unsampled, response.Headers.GetValues("X-Correlation-ID").Single());
        }

        var sampled = NewTraceId();
        using (var response = await SendAsync(gateway, "identity", sampled, NewSpanId(), "otlp-sampled"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await gateway.StopAsync();
        Assert.True(await LoopbackReceiver.WaitUntilAsync(() => receiver.Bodies("/v1/traces").Count > 0, TimeSpan.FromSeconds(10)), gateway.Output);
        var spans = receiver.Bodies("/v1/traces").Select(ExportTraceServiceRequest.Parser.ParseFrom)
            .SelectMany(r => r.ResourceSpans).SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans).ToList();
        Assert.All(spans, span => Assert.Equal(sampled, Hex(span.TraceId)));
        Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Server && Attribute(s.Attributes, "http.route")?.StringValue == "/v2/models/{model}/infer");
        Assert.Single(spans, s => s.Name == "gateway.execute");
    }

    /// <summary>Every signal over OTLP/HTTP protobuf to <paramref name="receiver"/>, exported within a fraction of a second.</summary>
    private static Dictionary<string, string> Otlp(LoopbackReceiver receiver) => new()
    {
        ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.Address.ToString(),
        ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        ["OTEL_BLRP_SCHEDULE_DELAY"] = "100",
        ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
    };

    private static Task<HttpResponseMessage> SendAsync(GatewayProcess gateway, string model, string traceId, string parentId, string correlation)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{model}/infer") { Content = new StringContent(Identity, Encoding.UTF8, "application/json") };
        request.Headers.Add("traceparent", $"00-{traceId}-{parentId}-01");
        request.Headers.Add("X-Correlation-ID", correlation);
        return gateway.Client.SendAsync(request);
    }

    internal static AnyValue? Attribute(IEnumerable<KeyValue> attributes, string key) => attributes.FirstOrDefault(a => a.Key == key)?.Value;

    private static string Body(LogRecord record) => record.Body?.StringValue ?? string.Empty;

    private static string Hex(ByteString bytes) => Convert.ToHexStringLower(bytes.Span);

    private static string NewTraceId() => Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());

    private static string NewSpanId() => Convert.ToHexStringLower(Guid.NewGuid().ToByteArray().AsSpan(0, 8));
}
