using System.Text.Json;
using Gateway.Buffers;
using Gateway.Hosting;
using Gateway.Repository;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Gateway.Telemetry;

/// <summary>Tags that put a health check into a probe.</summary>
public static class HealthTags
{
    /// <summary>Checked by <c>/health/live</c>: only what a restart would fix. The process answering is the check.</summary>
    public const string Live = "live";

    /// <summary>
    /// Checked by <c>/health/ready</c>: what must work before traffic is sent here (models,
    /// and, once added by their owners, the database and Redis:
    /// <c>services.AddHealthChecks().AddCheck&lt;T&gt;("postgres", tags: [HealthTags.Ready])</c>).
    /// </summary>
    public const string Ready = "ready";
}

/// <summary>
/// Every loaded model version's scheduler is responding: its execution threads are alive, its
/// queue lock is free, no execution has run and no queued request has waited longer than
/// <see cref="HealthSettings.StallSeconds"/> without progress; and the start-up load is done
/// (with strict readiness, without failures).
/// </summary>
internal sealed class ModelsHealthCheck(ModelRepository repository, TelemetryOptions options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!repository.IsReady)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy(repository.NotReadyReason));
        }

        var stall = TimeSpan.FromSeconds(options.Health.StallSeconds);
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        string? failure = null;
        var versions = 0;
        foreach (var (_, model) in repository.Models)
        {
            foreach (var version in model.Versions)
            {
                versions++;
                var problem = version.Scheduler.Probe(stall);
                data[$"{model.Name}/{version.VersionText}"] = problem ?? "ok";
                failure ??= problem is null ? null : $"model '{model.Name}' version {version.VersionText}: {problem}";
            }
        }

        return Task.FromResult(failure is null
            ? HealthCheckResult.Healthy($"{versions} model version(s) serving", data)
            : HealthCheckResult.Unhealthy(failure, data: data));
    }
}

/// <summary>
/// What the rest of the gateway reports through <see cref="IReadinessCheck"/> (the identity store
/// and the revocation feed of the auth work): ready when none gives a reason not to be;
/// <c>Degraded</c> (still 200) when one says it does not fully work but the gateway serves.
/// </summary>
internal sealed class DependenciesHealthCheck(IEnumerable<IReadinessCheck> checks) : IHealthCheck
{
    private readonly IReadinessCheck[] _checks = [.. checks];

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>(StringComparer.Ordinal);
        string? failure = null;
        string? degradation = null;
        foreach (var check in _checks)
        {
            var reason = check.NotReadyReason;
            var degraded = reason is null ? check.DegradedReason : null;
            data[check.GetType().Name] = reason ?? (degraded is null ? "ok" : "degraded: " + degraded);
            failure ??= reason;
            degradation ??= degraded;
        }

        return Task.FromResult(
            failure is not null ? HealthCheckResult.Unhealthy(failure, data: data)
            : degradation is not null ? HealthCheckResult.Degraded(degradation, data: data)
            : HealthCheckResult.Healthy($"{_checks.Length} dependency check(s) passing", data));
    }
}

/// <summary>
/// <c>/health/live</c> and <c>/health/ready</c> for Kubernetes probes (200 <c>Healthy</c>, or
/// 503 <c>Unhealthy</c>), and <c>/health/details</c>, every check in detail as JSON. GET only.
/// </summary>
internal static class HealthEndpoints
{
    private static readonly HttpMethodMetadata s_get = new(["GET"]);

    public static (IEndpointConventionBuilder Live, IEndpointConventionBuilder Ready, IEndpointConventionBuilder Detail) MapGatewayHealth(this IEndpointRouteBuilder app)
    {
        var live = app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = static check => check.Tags.Contains(HealthTags.Live) }).WithMetadata(s_get);
        var ready = app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = static check => check.Tags.Contains(HealthTags.Ready) }).WithMetadata(s_get);
        var detail = app.MapHealthChecks("/health/details", new HealthCheckOptions { ResponseWriter = WriteDetailAsync }).WithMetadata(s_get);
        return (live, ready, detail);
    }

    /// <summary>
    /// <c>{"status":"Healthy","duration_ms":0.4,"checks":[{"name":"models","status":"Healthy",
    /// "description":"...","duration_ms":0.1,"tags":["ready"],"data":{"identity/1":"ok"}}]}</c>.
    /// </summary>
    internal static async Task WriteDetailAsync(HttpContext context, HealthReport report)
    {
        using var buffer = new PooledBufferWriter(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("status"u8, report.Status.ToString());
            writer.WriteNumber("duration_ms"u8, Math.Round(report.TotalDuration.TotalMilliseconds, 3));
            writer.WriteStartArray("checks"u8);
            foreach (var (name, entry) in report.Entries)
            {
                writer.WriteStartObject();
                writer.WriteString("name"u8, name);
                writer.WriteString("status"u8, entry.Status.ToString());
                if (entry.Description is not null)
                {
                    writer.WriteString("description"u8, entry.Description);
                }

                writer.WriteNumber("duration_ms"u8, Math.Round(entry.Duration.TotalMilliseconds, 3));
                if (entry.Exception is not null)
                {
                    writer.WriteString("error"u8, entry.Exception.Message);
                }

                writer.WriteStartArray("tags"u8);
                foreach (var tag in entry.Tags)
                {
                    writer.WriteStringValue(tag);
                }

                writer.WriteEndArray();
                writer.WriteStartObject("data"u8);
                foreach (var (key, value) in entry.Data)
                {
                    writer.WriteString(key, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                }

                writer.WriteEndObject();
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        var response = context.Response;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenSpan.Length;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }
}
