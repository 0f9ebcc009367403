using Gateway.Load;

namespace Gateway.Load.Tests;

/// <summary>What the load tests ask of a server for a scenario it serves, over HTTP or gRPC alike.</summary>
internal static class ClosedRuns
{
    /// <summary>
    /// Checks one answer of <paramref name="scenario"/> at <paramref name="address"/>, then runs it
    /// closed with two callers and no warm-up for <paramref name="seconds"/>: at least
    /// <paramref name="atLeast"/> requests recorded, each one answered, no error. Returns the run
    /// for the caller's own checks of what came back.
    /// </summary>
    public static async Task<RunResult> EveryRequestAnsweredAsync(Scenario scenario, Uri address, int atLeast, double seconds)
    {
        if (scenario.GrpcRequest is not null)
        {
            Assert.Null(await scenario.CheckGrpcAsync(address));
        }
        else
        {
            using var client = LoadModels.CreateClient(address, 1);
            Assert.Null(await scenario.CheckAsync(client));
        }

        var run = await LoadModels.RunClosedAsync(scenario, address, callers: 2, warmupSeconds: 0, durationSeconds: seconds);

        Assert.True(run.Data.Requests >= atLeast, $"{run.Data.Requests} requests recorded, fewer than {atLeast}");
        Assert.Equal(run.Data.Requests, run.Data.Ok);
        Assert.Equal(0, run.ErrorCount);
        return run;
    }
}
