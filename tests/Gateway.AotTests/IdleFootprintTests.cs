using System.Net;
using Gateway.Testing;

namespace Gateway.AotTests;

/// <summary>
/// The idle footprint gate (issue 14, item 5): the published binary, started without models,
/// settles at or under 30 MiB resident, and still serves after its start-up pages were given back.
/// </summary>
public sealed class IdleFootprintTests
{
    /// <summary>The target: RSS of a started gateway without models.</summary>
    public const long MaxIdleRssBytes = 30L * 1024 * 1024;

    [Fact]
    public async Task NoModels_IdleRss_AtMost30MiB_AndStillServes()
    {
        await using var trimmed = Start(trim: true);
        await using var untrimmed = Start(trim: false);
        await trimmed.WaitReadyAsync();
        await untrimmed.WaitReadyAsync();

        // The trim runs once the server listens and the (empty) repository is loaded: give it time.
        var rss = await SettledRssAsync(trimmed);
        var untrimmedRss = await SettledRssAsync(untrimmed);
        Assert.True(rss <= MaxIdleRssBytes, $"idle RSS {rss / 1048576.0:F1} MiB (at most {MaxIdleRssBytes / 1048576} MiB; {untrimmedRss / 1048576.0:F1} MiB with Gateway:TrimAfterStart=false)");
        // The gate measures the trim, not a machine where nothing is resident anyway.
        Assert.True(untrimmedRss > rss + (8L << 20), $"untrimmed {untrimmedRss / 1048576.0:F1} MiB against trimmed {rss / 1048576.0:F1} MiB");

        // The code dropped from the working set comes back on use.
        for (var i = 0; i < 20; i++)
        {
            using var metadata = await trimmed.Client.GetAsync("/v2");
            Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
            using var missing = await trimmed.Client.PostAsync("/v2/models/nothing/infer", new StringContent("{}"));
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        Assert.False(trimmed.Process.HasExited);
    }

    private static GatewayProcess Start(bool trim)
    {
        var info = new GatewayStartInfo { ModelRepository = Directory.CreateTempSubdirectory("gateway-empty-").FullName };
        info.Arguments.Add("--Auth:Mode=none");
        info.Arguments.Add("--Gateway:TrimAfterStart=" + (trim ? "true" : "false"));
        info.Environment["Storage__SqlitePath"] = Path.Combine(Directory.CreateTempSubdirectory("gateway-aot-data-").FullName, "gateway.db");
        return GatewayProcess.Start(info);
    }

    /// <summary>RSS two idle seconds after ready (the load runner's startup probe waits one).</summary>
    private static async Task<long> SettledRssAsync(GatewayProcess gateway)
    {
        await Task.Delay(TimeSpan.FromSeconds(2));
        return gateway.Memory().Rss;
    }
}
