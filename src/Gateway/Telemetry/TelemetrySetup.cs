using Gateway.Auth;
using Gateway.Documentation;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenTelemetry.Logs;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Prometheus;

namespace Gateway.Telemetry;

/// <summary>The endpoints telemetry maps, for the host to attach access rules to.</summary>
/// <param name="Metrics"><c>/metrics</c>, or null when Prometheus metrics are off.</param>
/// <param name="Live"><c>/health/live</c> (probe: open).</param>
/// <param name="Ready"><c>/health/ready</c> (probe: open).</param>
/// <param name="Detail"><c>/health/details</c>, every check in detail (privileged).</param>
internal sealed record TelemetryEndpoints(
    IEndpointConventionBuilder? Metrics, IEndpointConventionBuilder Live, IEndpointConventionBuilder Ready, IEndpointConventionBuilder Detail);

/// <summary>
/// Wires logging, metrics, tracing, health and error tracking into the host. OpenTelemetry is
/// added only for the signals that have an OTLP endpoint (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or
/// the signal's own <c>OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT</c>); with none, no
/// provider exists, nothing listens to the gateway's activity source and nothing is exported.
/// </summary>
internal static class TelemetrySetup
{
    /// <summary>ASP.NET Core's activity source: the server span of every HTTP request (and gRPC call).</summary>
    public const string AspNetCoreActivitySource = "Microsoft.AspNetCore";

    /// <summary>The service name used when neither <c>OTEL_SERVICE_NAME</c> nor <c>OTEL_RESOURCE_ATTRIBUTES</c> gives one.</summary>
    public const string DefaultServiceName = "inference-gateway";

    /// <summary>Binds and checks <c>Telemetry</c>, then registers everything; call after the listen URLs are settled.</summary>
    public static TelemetryOptions AddGatewayTelemetry(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(TelemetryOptions.SectionName).Get<TelemetryOptions>() ?? new TelemetryOptions();
        var problem = options.Validate();
        if (problem is null && options.Metrics.Url.Length > 0 && string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            problem = $"{TelemetryOptions.SectionName}:Metrics:Url needs the main listeners given as URLs (--urls or ASPNETCORE_URLS), not as Kestrel endpoints or ports";
        }

        if (problem is not null)
        {
            throw new OptionsValidationException(TelemetryOptions.SectionName, typeof(TelemetryOptions), [problem]);
        }

        if (options.Metrics.Url.Length > 0)
        {
            builder.WebHost.UseUrls(builder.Configuration["urls"] + ";" + options.Metrics.Url);
        }

        ConfigureLogging(builder, options);
        AddOpenTelemetry(builder);
        AddSentry(builder);

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton<GatewayMetrics>();
        services.AddHealthChecks()
            .AddCheck<ModelsHealthCheck>("models", tags: [HealthTags.Ready])
            .AddCheck<DependenciesHealthCheck>("dependencies", tags: [HealthTags.Ready]);
        return options;
    }

    /// <summary>Adds the telemetry middleware (after routing, before the endpoints and any access control).</summary>
    public static void UseGatewayTelemetry(this WebApplication app)
    {
        var metrics = app.Services.GetRequiredService<GatewayMetrics>();
        var options = app.Services.GetRequiredService<TelemetryOptions>();
        var loggers = app.Services.GetRequiredService<ILoggerFactory>();
        var time = app.Services.GetRequiredService<TimeProvider>();
        app.Use(next => new TelemetryMiddleware(next, metrics, options, loggers, time).InvokeAsync);
    }

    /// <summary>
    /// Maps <c>/metrics</c> (for <c>Telemetry:Metrics:RequiredRole</c>, by default the privileged
    /// role) and the health endpoints: the probes open, as Kubernetes calls them without
    /// credentials; the detailed view for the privileged role.
    /// </summary>
    public static TelemetryEndpoints MapGatewayTelemetry(this WebApplication app)
    {
        var metrics = app.Services.GetRequiredService<GatewayMetrics>();
        var options = app.Services.GetRequiredService<TelemetryOptions>();
        var endpoint = metrics.PrometheusEnabled ? app.MapMetrics("/metrics", metrics.Registry).WithMetadata(new HttpMethodMetadata(["GET"])) : null;
        if (endpoint is not null)
        {
            var role = options.Metrics.RequiredRole;
            var access = role.Length == 0 ? EndpointAccess.Privileged
                : role == "open" ? EndpointAccess.Open
                : Roles.TryParse(role.AsSpan(), out var minimum) ? EndpointAccess.AtLeast(minimum)
                : throw new InvalidOperationException($"Telemetry:Metrics:RequiredRole '{role}' is not a role"); // validated at start-up
            endpoint.Declare(
                access,
                "Prometheus metrics",
                new("metrics", "observability", "Prometheus metrics",
                    "The Prometheus text exposition format. With Telemetry:Metrics:Url set, served only on that management listener (404 here); its access is Telemetry:Metrics:RequiredRole.",
                    new Reply(200, "The metrics.", [Media.Text("text/plain", "Prometheus text format 0.0.4.")], [])));
        }

        var (live, ready, detail) = app.MapGatewayHealth();
        live.Declare(
            EndpointAccess.Open,
            "liveness",
            new("healthLive", "health", "Liveness probe", "For Kubernetes' liveness probe: only what a restart would fix.",
                new Reply(200, "Live.", [Media.Text("text/plain", "Healthy")], []), new Reply(503, "Not live.", [Media.Text("text/plain", "Unhealthy")], [])));
        ready.Declare(
            EndpointAccess.Open,
            "readiness",
            new("healthReady", "health", "Readiness probe", "For Kubernetes' readiness probe: models loaded and responding, the identity store and the revocation feed reachable.",
                new Reply(200, "Ready.", [Media.Text("text/plain", "Healthy or Degraded")], []), new Reply(503, "Not ready.", [Media.Text("text/plain", "Unhealthy")], [])));
        detail.Declare(
            EndpointAccess.Privileged,
            "detailed health view",
            new("healthDetails", "observability", "Detailed health view", "Every health check with its status, timing and data.",
                Reply.Json<HealthDetailsResponse>(200, "Healthy or degraded."), Reply.Json<HealthDetailsResponse>(503, "Unhealthy: at least one check failed.")));
        return new TelemetryEndpoints(endpoint, live, ready, detail);
    }

    /// <summary>
    /// JSON lines by default (scopes included: correlation, trace and span ids), or single text
    /// lines. The logging scope of <see cref="TelemetryMiddleware"/> carries the ids, so the
    /// factory's own activity tracking (TraceId/SpanId/ParentId) is turned off to avoid both.
    /// </summary>
    private static void ConfigureLogging(WebApplicationBuilder builder, TelemetryOptions options)
    {
        builder.Logging.Configure(static factory => factory.ActivityTrackingOptions = ActivityTrackingOptions.None);
        if (options.JsonLogs)
        {
            builder.Logging.AddJsonConsole(static json =>
            {
                json.IncludeScopes = true;
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy'-'MM'-'dd'T'HH':'mm':'ss.fff'Z'";
            });
        }
        else
        {
            builder.Logging.AddSimpleConsole(static text =>
            {
                text.IncludeScopes = true;
                text.SingleLine = true;
                text.TimestampFormat = "HH:mm:ss.fff ";
                text.ColorBehavior = LoggerColorBehavior.Default;
            });
        }
    }

    private static void AddOpenTelemetry(WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        if (string.Equals(config["OTEL_SDK_DISABLED"], "true", StringComparison.OrdinalIgnoreCase))
        {
            return;
        }

        var traces = Exports(config, "TRACES");
        var metrics = Exports(config, "METRICS");
        var logs = Exports(config, "LOGS");
        if (!traces && !metrics && !logs)
        {
            return;
        }

        // The exporter reads OTEL_EXPORTER_OTLP_* (endpoint, protocol, headers, timeout) and the
        // resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES from configuration, which holds
        // the environment; a service name of our own is given only when neither names one.
        var otel = builder.Services.AddOpenTelemetry();
        var attributes = config["OTEL_RESOURCE_ATTRIBUTES"] ?? string.Empty;
        if (string.IsNullOrWhiteSpace(config["OTEL_SERVICE_NAME"]) && !attributes.Contains("service.name=", StringComparison.Ordinal))
        {
            otel.ConfigureResource(static resource => resource.AddService(DefaultServiceName, serviceVersion: Protocol.V2Endpoints.ServerVersion));
        }

        if (traces)
        {
            // PERF: the request span is ASP.NET Core's own, from its "Microsoft.AspNetCore" activity
            // source; no instrumentation library, which subscribes to the host's DiagnosticListener
            // and raises two events on every request, sampled or not. ASP.NET Core 10's own HTTP
            // tags (the SuppressActivityOpenTelemetryData switch) stay off: it computes them for
            // every request, sampled or not, which measured dearer than the events; the telemetry
            // middleware tags the sampled spans instead (TelemetryMiddleware.CompleteServerSpan).
            otel.WithTracing(static tracing => tracing
                .AddSource(AspNetCoreActivitySource)
                .AddSource(GatewayTelemetry.Name)
                // Npgsql emits its own spans under this source; they appear once the storage work uses it.
                .AddSource("Npgsql")
                .AddOtlpExporter());
        }

        if (metrics)
        {
            otel.WithMetrics(static meters => meters
                .AddMeter(GatewayTelemetry.Name, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime", "Npgsql")
                // PERF: two measurements per request for a gauge that gateway.inference.in_flight and
                // the request-duration histogram's rate already give; dropped, ASP.NET Core skips them.
                .AddView("http.server.active_requests", MetricStreamConfiguration.Drop)
                .AddOtlpExporter());
        }

        if (logs)
        {
            otel.WithLogging(static logging => logging.AddOtlpExporter(), static logging =>
            {
                logging.IncludeScopes = true;
                logging.IncludeFormattedMessage = true;
            });
        }
    }

    /// <summary>A signal is exported when an OTLP endpoint is set for it and its exporter is not <c>none</c>.</summary>
    private static bool Exports(ConfigurationManager config, string signal) =>
        !string.Equals(config[$"OTEL_{signal}_EXPORTER"], "none", StringComparison.OrdinalIgnoreCase)
        && (!string.IsNullOrWhiteSpace(config["OTEL_EXPORTER_OTLP_ENDPOINT"]) || !string.IsNullOrWhiteSpace(config[$"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT"]));

    /// <summary>Probes and scrapes: frequent, uninteresting, and never traced.</summary>
    internal static bool IsProbeOrScrape(PathString path) =>
        path.StartsWithSegments("/metrics", StringComparison.Ordinal)
        || path.StartsWithSegments("/health", StringComparison.Ordinal)
        || path.StartsWithSegments("/v2/health", StringComparison.Ordinal);

    /// <summary>
    /// Sentry, when a DSN is given (<c>SENTRY_DSN</c> or <c>Sentry:Dsn</c>): unhandled exceptions
    /// and error log entries become events. No personal data and no credentials: no user, no
    /// request body, and every credential header, cookie and query value scrubbed before an
    /// event or transaction leaves (<see cref="SentryScrubber"/>), whatever other settings say.
    /// </summary>
    private static void AddSentry(WebApplicationBuilder builder)
    {
        var dsn = builder.Configuration["Sentry:Dsn"];
        if (string.IsNullOrWhiteSpace(dsn))
        {
            dsn = builder.Configuration["SENTRY_DSN"];
        }

        if (string.IsNullOrWhiteSpace(dsn))
        {
            return;
        }

        builder.WebHost.UseSentry(sentry =>
        {
            sentry.Dsn = dsn;
            sentry.SendDefaultPii = false;
            sentry.MaxRequestBodySize = Sentry.Extensibility.RequestSize.None;
            sentry.SetBeforeSend(static sentryEvent => SentryScrubber.Scrub(sentryEvent));
            sentry.SetBeforeSendTransaction(static transaction => SentryScrubber.Scrub(transaction));
            sentry.Release ??= $"{DefaultServiceName}@{Protocol.V2Endpoints.ServerVersion}";
        });
    }
}
