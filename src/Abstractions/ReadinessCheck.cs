namespace Gateway.Hosting;

/// <summary>
/// Something besides the model repository that readiness depends on (the identity store, the
/// revocation feed). <c>/v2/health/ready</c> answers 503 with the first reason given;
/// <c>/health/details</c> also shows what is degraded but still serving.
/// </summary>
public interface IReadinessCheck
{
    /// <summary>Why the gateway should not take traffic now, or null.</summary>
    string? NotReadyReason { get; }

    /// <summary>
    /// What does not work while the gateway still serves (readiness stays up), or null: shown
    /// as <c>Degraded</c> in <c>/health/details</c>, naming the dependency.
    /// </summary>
    string? DegradedReason => null;
}
