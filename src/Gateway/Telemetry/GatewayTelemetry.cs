using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Gateway.Telemetry;

/// <summary>
/// The gateway's own <see cref="ActivitySource"/> and <see cref="Meter"/>, and the attribute names
/// its spans and instruments carry. Spans are built only when something listens
/// (<see cref="ActivitySource.HasListeners"/>), which is only when an OTLP endpoint is set.
/// </summary>
internal static class GatewayTelemetry
{
    /// <summary>Name of the activity source and of the meter.</summary>
    public const string Name = "Gateway";

    /// <summary>The activity source of the queue and execution spans.</summary>
    public static readonly ActivitySource Source = new(Name, Protocol.V2Endpoints.ServerVersion);

    /// <summary>The span for a request's wait in its model's queue (a child of the request's server span).</summary>
    public const string QueueSpan = "gateway.queue";

    /// <summary>The span for one execution of a batch (linked to every request in it).</summary>
    public const string ExecuteSpan = "gateway.execute";

    public const string ModelAttribute = "gateway.model.name";
    public const string VersionAttribute = "gateway.model.version";
    public const string BackendAttribute = "gateway.model.backend";
    public const string DeviceAttribute = "gateway.model.device";
    public const string BatchSizeAttribute = "gateway.batch.size";
    public const string BatchRequestsAttribute = "gateway.batch.requests";
    public const string OutcomeAttribute = "gateway.outcome";
    public const string CorrelationAttribute = "gateway.correlation_id";
    public const string PhaseAttribute = "gateway.phase";
    public const string ReasonAttribute = "gateway.reason";
}
