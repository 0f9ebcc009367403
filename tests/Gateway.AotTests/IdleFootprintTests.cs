using System.Net;
using Gateway.Testing;

namespace Gateway.AotTests;

/// <summary>
/// The idle footprint gate (issue 14, item 5): the published binary, started without models,
/// gives back the pages only start-up ran (<c>Gateway:TrimAfterStart</c>) and still serves.
/// </summary>
/// <remarks>
/// The target of 30 MiB holds only until the first request after the trim: that request's lazy
/// initialisation and path fault about 9 MiB of the binary back in (docs/PERFORMANCE.md, "Lean"),
/// and when the readiness poll's last probes land after the trim is a race. So the gate is the
/// saving against the same binary untrimmed, and a ceiling at today's level after requests.
/// </remarks>
public sealed class IdleFootprintTests
{
    /// <summary>Ceiling for RSS without models after the readiness poll and a few requests (about 38 MiB measured; 50 untrimmed).</summary>
    public const long MaxRssAfterRequestsBytes = 44L * 1024 * 1024;

    /// <summary>What the trim must save at least (about 12 to 22 MiB measured).</summary>
    public const long MinSavedBytes = 8L * 1024 * 1024;

    [Fact]
    public async Task NoModels_TrimGivesBackStartupPages_AndStillServes()
    {
        await using var trimmed = Start(trim: true);
        await using var untrimmed = Start(trim: false);
        await trimmed.WaitReadyAsync();
        await untrimmed.WaitReadyAsync();

        // The trim runs once the server listens and the (empty) repository is loaded.
        await Task.Delay(TimeSpan.FromSeconds(2));
        for (var i = 0; i < 20; i++)
        {
            foreach (var gateway in new[] { trimmed, untrimmed })
            {
                // The code dropped from the working set comes back on use.
                using var metadata = await gateway.Client.GetAsync("/v2");
                Assert.Equal(HttpStatusCode.OK, metadata.StatusCode);
                using var missing = await gateway.Client.PostAsync("/v2/models/nothing/infer", new StringContent("{}"));
                Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            }
        }

        var rss = trimmed.Memory().Rss;
        var untrimmedRss = untrimmed.Memory().Rss;
        Assert.True(rss <= MaxRssAfterRequestsBytes, $"RSS {rss / 1048576.0:F1} MiB (at most {MaxRssAfterRequestsBytes / 1048576} MiB; {untrimmedRss / 1048576.0:F1} MiB with Gateway:TrimAfterStart=false)");
        Assert.True(untrimmedRss - rss >= MinSavedBytes, $"trimmed {rss / 1048576.0:F1} MiB against untrimmed {untrimmedRss / 1048576.0:F1} MiB");
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
}
