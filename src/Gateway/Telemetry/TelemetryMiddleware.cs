using System.Diagnostics;
using Gateway.Protocol;

namespace Gateway.Telemetry;

/// <summary>
/// First in the pipeline after routing: keeps the management listener to <c>/metrics</c> and
/// health, gives every request a correlation id (the caller's <c>X-Correlation-ID</c> or
/// <c>X-Request-ID</c> when well-formed, else the trace id) echoed in the response, opens the
/// logging scope that puts it and the trace and span ids on every log line, and times the
/// request for <c>gateway_http_request_duration_seconds</c>.
/// </summary>
internal sealed class TelemetryMiddleware
{
    public const string CorrelationHeader = "X-Correlation-ID";
    public const string RequestIdHeader = "X-Request-ID";
    public const int MaxCorrelationLength = 128;

    /// <summary>The status recorded for a request whose client disconnected before an answer (nginx's convention).</summary>
    public const int ClientClosedRequest = 499;

    private readonly RequestDelegate _next;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _managementPort;
    private readonly bool _metricsServed;

    public TelemetryMiddleware(RequestDelegate next, GatewayMetrics metrics, TelemetryOptions options, ILoggerFactory loggers, TimeProvider time)
    {
        _next = next;
        _metrics = metrics;
        _logger = loggers.CreateLogger("Gateway.Request");
        _time = time;
        _managementPort = options.Metrics.Port;
        _metricsServed = options.Metrics.Enabled;
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (_managementPort != 0 && !AllowedOnListener(context))
        {
            return HttpErrors.WriteAsync(context, StatusCodes.Status404NotFound, $"no endpoint for {context.Request.Method} {context.Request.Path} on this listener");
        }

        var correlation = ResolveCorrelationId(context);
        if (Activity.Current is { Recorded: true } server && TelemetrySetup.IsProbeOrScrape(context.Request.Path))
        {
            // Probes and scrapes are never exported, whatever the sampler said: the processor and
            // the exporter drop a span that is not recorded.
            server.IsAllDataRequested = false;
            server.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
        }

        return InvokeCoreAsync(context, correlation);
    }

    private async Task InvokeCoreAsync(HttpContext context, string correlation)
    {
        var started = _time.GetTimestamp();
        // PERF: the scope costs an AsyncLocal push; skip it when no log line could be written.
        using var scope = _logger.IsEnabled(LogLevel.Critical) ? _logger.BeginScope(new RequestLogScope(correlation, Activity.Current)) : null;
        _metrics.HttpStarted();
        try
        {
            await _next(context);
        }
        catch (Exception exception)
        {
            if (Activity.Current is { Recorded: true } server)
            {
                server.AddException(exception);
            }

            if (!context.Response.HasStarted)
            {
                // A client that went away mid-request is not a server fault: counted as nginx's
                // 499 (client closed request), so 5xx series and alerts stay about the server.
                context.Response.StatusCode = context.RequestAborted.IsCancellationRequested
                    ? ClientClosedRequest
                    : StatusCodes.Status500InternalServerError;
            }

            throw;
        }
        finally
        {
            _metrics.HttpFinished(context, _time.GetElapsedTime(started).TotalSeconds);
            if (Activity.Current is { Recorded: true } server)
            {
                CompleteServerSpan(server, context, correlation);
            }
        }
    }

    /// <summary>
    /// OpenTelemetry's HTTP server conventions on a sampled request span, which ASP.NET Core 10
    /// leaves bare by default: the name <c>{method} {route}</c>, the request's method, scheme,
    /// path, server address and port, protocol version, <c>http.route</c>,
    /// <c>http.response.status_code</c>, and an error status for a 5xx answer; and the
    /// correlation id. Written once, at the end, and only for spans that are exported.
    /// </summary>
    private static void CompleteServerSpan(Activity server, HttpContext context, string correlation)
    {
        var request = context.Request;
        var method = request.Method;
        var status = context.Response.StatusCode;
        if (context.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route })
        {
            server.DisplayName = method + " " + route;
            server.SetTag("http.route", route);
        }
        else
        {
            server.DisplayName = method;
        }

        server.SetTag("http.request.method", method);
        server.SetTag("url.scheme", request.Scheme);
        server.SetTag("url.path", request.PathBase.Add(request.Path).Value);
        server.SetTag("server.address", request.Host.Host);
        server.SetTag("server.port", request.Host.Port ?? context.Connection.LocalPort);
        server.SetTag("network.protocol.version", request.Protocol switch
        {
            "HTTP/1.1" => "1.1",
            "HTTP/2" => "2",
            "HTTP/3" => "3",
            "HTTP/1.0" => "1.0",
            var other => other,
        });
        server.SetTag("http.response.status_code", status);
        server.SetTag(GatewayTelemetry.CorrelationAttribute, correlation);
        if (status >= StatusCodes.Status500InternalServerError)
        {
            server.SetTag("error.type", status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            server.SetStatus(ActivityStatusCode.Error);
        }
    }

    /// <summary>On the management listener only metrics and health; elsewhere no metrics.</summary>
    private bool AllowedOnListener(HttpContext context)
    {
        var path = context.Request.Path;
        var isMetrics = path.StartsWithSegments("/metrics", StringComparison.Ordinal);
        if (context.Connection.LocalPort == _managementPort)
        {
            return (isMetrics && _metricsServed) || path.StartsWithSegments("/health", StringComparison.Ordinal);
        }

        return !isMetrics;
    }

    /// <summary>The caller's id when well-formed, else the trace id (or a new id); echoed in the response.</summary>
    private static string ResolveCorrelationId(HttpContext context)
    {
        var headers = context.Request.Headers;
        var responseHeaders = context.Response.Headers;
        var given = headers[CorrelationHeader];
        var viaRequestId = false;
        if (given.Count == 0)
        {
            given = headers[RequestIdHeader];
            viaRequestId = given.Count > 0;
        }

        string id;
        if (given.Count == 1 && IsWellFormed(given[0]))
        {
            id = given[0]!;
        }
        else
        {
            id = Activity.Current?.TraceId.ToHexString() ?? CallersTraceId(headers) ?? Guid.NewGuid().ToString("N");
            viaRequestId = false;
        }

        responseHeaders[CorrelationHeader] = id;
        if (viaRequestId)
        {
            responseHeaders[RequestIdHeader] = id;
        }

        return id;
    }

    /// <summary>
    /// The trace id of a well-formed W3C <c>traceparent</c>, for a request the host made no span
    /// for (its logging and tracing both off): the caller's trace still names the request.
    /// </summary>
    /// <remarks>
    /// Not <see cref="ActivityContext.TryParse(string, string, out ActivityContext)"/>: it accepts
    /// any character between the fields, and an id that goes into every log line should not.
    /// </remarks>
    internal static string? CallersTraceId(IHeaderDictionary headers)
    {
        var values = headers.TraceParent;
        if (values.Count != 1 || values[0] is not { Length: >= 55 } traceparent)
        {
            return null;
        }

        var traceId = traceparent.AsSpan(3, 32);
        return traceparent[2] == '-' && traceparent[35] == '-' && !traceId.ContainsAnyExcept(LowerHex) && traceId.ContainsAnyExcept('0')
            ? traceId.ToString()
            : null;
    }

    private static readonly System.Buffers.SearchValues<char> LowerHex = System.Buffers.SearchValues.Create("0123456789abcdef");

    /// <summary>
    /// 1 to 128 characters from a conservative set, so that a caller's id can never break a log
    /// line, a header or a query: letters, digits and <c>- _ . : / + = @</c>.
    /// </summary>
    internal static bool IsWellFormed(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxCorrelationLength)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_' or '.' or ':' or '/' or '+' or '=' or '@'))
            {
                return false;
            }
        }

        return true;
    }
}
