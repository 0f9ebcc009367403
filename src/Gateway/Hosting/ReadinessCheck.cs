namespace Gateway.Hosting;

/// <summary>
/// Something besides the model repository that readiness depends on (the identity store, the
/// revocation feed). <c>/v2/health/ready</c> answers 503 with the first reason given.
/// </summary>
internal interface IReadinessCheck
{
    /// <summary>Why the gateway should not take traffic now, or null.</summary>
    string? NotReadyReason { get; }
}
