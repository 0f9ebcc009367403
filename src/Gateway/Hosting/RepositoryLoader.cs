using Gateway.Repository;
using Microsoft.Extensions.Options;

namespace Gateway.Hosting;

/// <summary>
/// Loads the model repository in the background once the server is listening, so liveness
/// answers at once and readiness turns true when the models are in; then, if configured, polls
/// the directory for changes. On shutdown it waits for retiring versions to drain.
/// </summary>
internal sealed partial class RepositoryLoader(ModelRepository repository, IOptions<GatewayOptions> options, TimeProvider time, ILogger<RepositoryLoader> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await repository.LoadAllAsync(stoppingToken);
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
