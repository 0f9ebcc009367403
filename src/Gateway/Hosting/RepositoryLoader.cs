using Gateway.Repository;

namespace Gateway.Hosting;

/// <summary>
/// Loads the model repository in the background once the server is listening, so liveness
/// answers at once and readiness turns true when the models are in.
/// </summary>
internal sealed class RepositoryLoader(ModelRepository repository) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        await repository.LoadAllAsync(stoppingToken);
    }
}
