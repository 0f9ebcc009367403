using Gateway.Repository;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>
/// Loads the model repository in the background once the server is listening, so liveness
/// answers at once and readiness turns true when the models are in; then, if configured, polls
/// the directory for changes. On shutdown it waits for retiring versions to drain. Start-up is
/// over once the server listens and the first load is done: then the binary's pages that only
/// start-up ran are given back (<see cref="WorkingSetTrim"/>, <see cref="GatewayOptions.TrimAfterStart"/>).
/// </summary>
internal sealed partial class RepositoryLoader(
    ModelRepository repository, IOptions<GatewayOptions> options, IHostApplicationLifetime lifetime, TimeProvider time, ILogger<RepositoryLoader> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await repository.LoadAllAsync(stoppingToken);
        if (options.Value.TrimAfterStart)
        {
            await WhenStartedAsync(stoppingToken);
            WorkingSetTrim.Trim();
        }

        var interval = options.Value.PollIntervalSeconds;
        if (interval == 0)
        {
            return;
        }

        var attempted = new Dictionary<string, string>(StringComparer.Ordinal);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(interval), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                await repository.PollOnceAsync(attempted, stoppingToken);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Log.PollFailed(logger, ex.Message);
            }
        }
    }

    /// <summary>Completes once the host has started (at once if it already has).</summary>
    private async Task WhenStartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStarted.Register(static state => ((TaskCompletionSource)state!).TrySetResult(), started);
        await started.Task.WaitAsync(stoppingToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await repository.DrainAsync().WaitAsync(cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(110, LogLevel.Warning, "Repository poll failed: {Reason}")]
        public static partial void PollFailed(ILogger logger, string reason);
    }
}
