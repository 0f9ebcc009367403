namespace Gateway.Load.Tests;

/// <summary>
/// Classes that put load on loopback servers run one at a time, not beside each other and not
/// beside the rest of this assembly: on two cores, a load run of one starves the other's callers
/// of thread-pool threads (a caller started after its window records nothing) and skews the
/// statistics another reads while it runs.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialLoad
{
    public const string Name = "serial load";
}
