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
        if (Activity.Current is { IsAllDataRequested: true } server)
        {
            server.SetTag(GatewayTelemetry.CorrelationAttribute, correlation);
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
        catch
        {
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
            id = Activity.Current?.TraceId.ToHexString() ?? Guid.NewGuid().ToString("N");
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
