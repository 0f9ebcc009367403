using Gateway.Abstractions;

namespace Gateway.Scheduling;

/// <summary>Creates the scheduler of a loaded model version; the repository is given one.</summary>
public interface ISchedulerFactory
{
    /// <summary>
    /// Starts a scheduler (and its execution threads) for <paramref name="runner"/>, named
    /// <paramref name="name"/> in thread names and logs; <paramref name="observer"/> may be null.
    /// </summary>
    ModelScheduler Create(string name, IModelRunner runner, SchedulingPolicy policy, ISchedulerObserver? observer);
}

/// <summary>Schedulers on one clock, logging to one logger.</summary>
public sealed class SchedulerFactory : ISchedulerFactory
{
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    /// <summary>Schedulers timed by <paramref name="time"/> (a fake clock in tests), logging to <paramref name="logger"/>.</summary>
    public SchedulerFactory(TimeProvider time, ILogger logger)
    {
        _time = time;
        _logger = logger;
    }

    /// <inheritdoc />
    public ModelScheduler Create(string name, IModelRunner runner, SchedulingPolicy policy, ISchedulerObserver? observer) =>
        new(name, runner, policy, _time, _logger, observer);
}
