using Gateway.Hosting;

namespace Gateway.Storage;

/// <summary>
/// Probes the identity store while the gateway runs: <c>SELECT 1</c> every
/// <c>Storage:HealthCheckSeconds</c> (every second while it is down, and at once when a request
/// met a failure), bounded by <c>Storage:HealthCheckTimeoutMilliseconds</c>. An outage never
/// takes readiness down: tokens already issued keep serving inference, and one shared database
/// must not drain every replica from the load balancer at once. It is reported as degraded in
/// <c>/health/details</c>, naming the store, and logged once when it begins and when it ends.
/// </summary>
internal sealed partial class StoreHealthMonitor(IAuthStore store, StorageOptions options, TimeProvider time, ILogger<StoreHealthMonitor> logger)
    : BackgroundService, IReadinessCheck
{
    private static readonly TimeSpan s_whileDown = TimeSpan.FromSeconds(1);
    private bool _announced;

    public string? NotReadyReason => null;

    public string? DegradedReason => store.Health.Problem;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = TimeSpan.FromSeconds(options.HealthCheckSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
                {
                    var woken = store.Health.Woken;
                    var delay = Task.Delay(store.Health.IsAvailable ? every : s_whileDown, time, wait.Token);
                    await Task.WhenAny(woken, delay);
                    await wait.CancelAsync();
                }

                stoppingToken.ThrowIfCancellationRequested();
                await ProbeAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <summary>One probe: available when <c>SELECT 1</c> answers within the timeout (internal for tests).</summary>
    internal async Task ProbeAsync(CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromMilliseconds(options.HealthCheckTimeoutMilliseconds);
        try
        {
            using var bounded = new CancellationTokenSource(timeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(bounded.Token, cancellationToken);

            // WaitAsync bounds the probe even where a provider ignores cancellation.
            await store.PingAsync(linked.Token).WaitAsync(timeout, time, cancellationToken);
            store.Health.ReportSuccess();
            if (_announced)
            {
                _announced = false;
                Log.Restored(logger, store.Kind);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var reason = ex is TimeoutException or OperationCanceledException
                ? $"no answer to a health check within {timeout.TotalMilliseconds:F0} ms"
                : StoreErrors.Describe(ex);
            store.Health.ReportFailure(reason);
            if (!_announced)
            {
                _announced = true;
                Log.Lost(logger, store.Kind, reason);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(550, LogLevel.Error,
            "Identity store ({Kind}) unavailable: {Reason}. Issued tokens keep serving; logins, refreshes, user and key management answer 503 until it returns")]
        public static partial void Lost(ILogger logger, string kind, string reason);

        [LoggerMessage(551, LogLevel.Information, "Identity store ({Kind}) available again")]
        public static partial void Restored(ILogger logger, string kind);
    }
}
