using System.Globalization;

namespace Gateway.Telemetry;

/// <summary>
/// Settings under <c>Telemetry</c>: log format, Prometheus metrics, health and GPU metrics.
/// OpenTelemetry export is configured only by the standard <c>OTEL_*</c> variables and Sentry by
/// <c>SENTRY_DSN</c> (or <c>Sentry:Dsn</c>); see docs/OBSERVABILITY.md. Bound and validated once
/// at start-up.
/// </summary>
public sealed class TelemetryOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Telemetry";

    /// <summary><c>json</c> (the default: one JSON object per line) or <c>text</c> (one readable line per entry).</summary>
    public string LogFormat { get; set; } = "json";

    /// <summary>Prometheus metrics.</summary>
    public MetricsSettings Metrics { get; set; } = new();

    /// <summary>Health checks.</summary>
    public HealthSettings Health { get; set; } = new();

    /// <summary>GPU metrics through NVML.</summary>
    public GpuSettings Gpu { get; set; } = new();

    /// <summary>True when console logs are JSON.</summary>
    public bool JsonLogs => string.Equals(LogFormat, "json", StringComparison.OrdinalIgnoreCase);

    /// <summary>Checks the values; returns the first problem, naming its key, or null.</summary>
    public string? Validate()
    {
        if (!string.Equals(LogFormat, "json", StringComparison.OrdinalIgnoreCase) && !string.Equals(LogFormat, "text", StringComparison.OrdinalIgnoreCase))
        {
            return $"{SectionName}:LogFormat must be 'json' or 'text' (got '{LogFormat}')";
        }

        return Metrics.Validate() ?? Health.Validate();
    }
}

/// <summary>Settings under <c>Telemetry:Metrics</c>.</summary>
public sealed class MetricsSettings
{
    /// <summary>Names accepted by <see cref="RequiredRole"/>: <c>open</c>, then the role table's names, lowest first.</summary>
    public static readonly string[] Roles = RoleNames();

    /// <summary>Default inference duration buckets in seconds: 100 µs to 10 s, about 2.5× apart.</summary>
    public static readonly double[] DefaultInferenceBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Default HTTP request duration buckets in seconds.</summary>
    public static readonly double[] DefaultHttpBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

    /// <summary>Default batch size buckets in rows.</summary>
    public static readonly double[] DefaultBatchSizeBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256];

    /// <summary>When false, <c>/metrics</c> is not served and nothing is recorded for it.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// A separate listener for <c>/metrics</c> (and the health endpoints), such as
    /// <c>http://0.0.0.0:9464</c>; <c>/metrics</c> is then served there only and nothing else is.
    /// Empty: <c>/metrics</c> is served on the main listener.
    /// </summary>
    public string Url { get; set; } = string.Empty;

    /// <summary>
    /// The least role that may read <c>/metrics</c> once authentication is on (<c>open</c>,
    /// <c>viewer</c>, <c>worker</c>, <c>supervisor</c>, <c>admin</c>); empty means the
    /// privileged role configured for authentication.
    /// </summary>
    public string RequiredRole { get; set; } = string.Empty;

    /// <summary>Bucket upper bounds in seconds for <c>gateway_inference_duration_seconds</c>; null for the defaults.</summary>
    public double[]? InferenceBuckets { get; set; }

    /// <summary>Bucket upper bounds in seconds for <c>gateway_http_request_duration_seconds</c>; null for the defaults.</summary>
    public double[]? HttpBuckets { get; set; }

    /// <summary>Bucket upper bounds in rows for <c>gateway_inference_batch_size</c>; null for the defaults.</summary>
    public double[]? BatchSizeBuckets { get; set; }

    /// <summary>The port of <see cref="Url"/>, or 0 when there is no separate listener.</summary>
    public int Port => Url.Length > 0 && Uri.TryCreate(Url, UriKind.Absolute, out var uri) ? uri.Port : 0;

    internal double[] EffectiveInferenceBuckets => InferenceBuckets ?? DefaultInferenceBuckets;

    internal double[] EffectiveHttpBuckets => HttpBuckets ?? DefaultHttpBuckets;

    internal double[] EffectiveBatchSizeBuckets => BatchSizeBuckets ?? DefaultBatchSizeBuckets;

    private static string[] RoleNames()
    {
        var names = new List<string> { "open" };
        foreach (var row in Auth.Roles.Table)
        {
            names.Add(row.Name);
        }

        return [.. names];
    }

    internal string? Validate()
    {
        const string Prefix = TelemetryOptions.SectionName + ":Metrics:";
        if (Url.Length > 0)
        {
            if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.AbsolutePath != "/"
                || uri.Port == 0 || !Url.TrimEnd('/').EndsWith(":" + uri.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal))
            {
                return $"{Prefix}Url must be an http URL with an explicit port and no path, such as http://0.0.0.0:9464 (got '{Url}')";
            }
        }

        if (RequiredRole.Length > 0 && Array.IndexOf(Roles, RequiredRole) < 0)
        {
            return $"{Prefix}RequiredRole must be empty or one of {string.Join(", ", Roles)} (got '{RequiredRole}')";
        }

        return CheckBuckets(Prefix + nameof(InferenceBuckets), InferenceBuckets)
            ?? CheckBuckets(Prefix + nameof(HttpBuckets), HttpBuckets)
            ?? CheckBuckets(Prefix + nameof(BatchSizeBuckets), BatchSizeBuckets);
    }

    private static string? CheckBuckets(string key, double[]? buckets)
    {
        if (buckets is null)
        {
            return null;
        }

        if (buckets.Length is 0 or > 64)
        {
            return $"{key} must hold from 1 to 64 bounds (got {buckets.Length})";
        }

        for (var i = 0; i < buckets.Length; i++)
        {
            if (!double.IsFinite(buckets[i]) || buckets[i] <= 0 || (i > 0 && buckets[i] <= buckets[i - 1]))
            {
                return $"{key} must be positive finite numbers in ascending order (got {string.Join(", ", Array.ConvertAll(buckets, static b => b.ToString(CultureInfo.InvariantCulture)))})";
            }
        }

        return null;
    }
}

/// <summary>Settings under <c>Telemetry:Health</c>.</summary>
public sealed class HealthSettings
{
    /// <summary>
    /// Readiness fails for a model whose oldest queued request has waited this long with no
    /// execution finishing meanwhile, or whose execution has run this long.
    /// </summary>
    public int StallSeconds { get; set; } = 30;

    internal string? Validate() => StallSeconds is < 1 or > 3600
        ? $"{TelemetryOptions.SectionName}:Health:StallSeconds must be from 1 to 3600 (got {StallSeconds})"
        : null;
}

/// <summary>Settings under <c>Telemetry:Gpu</c>.</summary>
public sealed class GpuSettings
{
    /// <summary>When false, NVML is never loaded.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The NVML library to load; absent means no GPU metrics, which is not an error.</summary>
    public string Library { get; set; } = "libnvidia-ml.so.1";
}
