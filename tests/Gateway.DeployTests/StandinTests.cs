using System.Text.RegularExpressions;
using Gateway.DeployTests.Engine;
using Gateway.Testing;

namespace Gateway.DeployTests;

/// <summary>
/// What runs where no registry answers: every image that docker-compose.prod.yml starts by
/// default and every base image of Dockerfile.aot's cpu target has a stand-in in
/// deploy/images/standins.sh; the images without one (the OTel Collector, Loki, Grafana) are
/// only in the observability profile, which a plain <c>up</c> does not start.
/// </summary>
public sealed partial class StandinTests
{
    private static string Root => ReferenceModels.RepositoryRoot;

    /// <summary>The upstream names standins.sh builds stand-ins for.</summary>
    private static HashSet<string> StandIns() =>
        [.. StandinEntry().Matches(File.ReadAllText(Path.Combine(Root, "deploy", "images", "standins.sh"))).Select(static m => m.Groups[1].Value)];

    [Fact]
    public async Task DefaultServices_AreTheOnesWithStandIns_AndTheProfileHoldsTheRest()
    {
        var environment = new Dictionary<string, string> { ["COMPOSE_FILE"] = "docker-compose.prod.yml" };
        var (code, config, error) = await Shell.RunSplitAsync("docker-compose", ["config"], environment);
        Assert.True(code == 0, config + error);
        // Each service of the resolved file, and whether it belongs to a profile.
        var services = config[(config.IndexOf("\nservices:\n", StringComparison.Ordinal) + 11)..];
        services = services[..Math.Max(0, ServicesEnd().Match(services).Index)];
        var blocks = ServiceBlock().Matches(services).ToDictionary(static m => m.Groups[1].Value, static m => m.Groups[2].Value);
        Assert.Equal(ComposeStack.Services.Order(), blocks.Where(static b => !b.Value.Contains("\n    profiles:", StringComparison.Ordinal)).Select(static b => b.Key).Order());
        Assert.Equal(["grafana", "loki", "otel-collector"], blocks.Where(static b => b.Value.Contains("\n    profiles:\n    - observability", StringComparison.Ordinal)).Select(static b => b.Key).Order());

        // The images of the default services, as docker-compose resolves them with no variable set.
        var images = blocks.Where(static b => !b.Value.Contains("\n    profiles:", StringComparison.Ordinal))
            .Select(static b => ImageLine().Match(b.Value).Groups[1].Value).Distinct().ToList();
        Assert.Contains("inference-gateway:cpu", images);
        var standIns = StandIns();
        foreach (var image in images.Where(static i => !i.StartsWith("inference-gateway:", StringComparison.Ordinal)))
        {
            Assert.True(standIns.Contains(image), $"docker-compose.prod.yml starts {image}, which has no stand-in in deploy/images/standins.sh");
        }
    }

    [Fact]
    public void DockerfileCpuTarget_BaseImages_HaveStandIns()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "Dockerfile.aot"));
        var cpu = dockerfile[..dockerfile.IndexOf("FROM scratch AS cpu", StringComparison.Ordinal)];
        var bases = From().Matches(cpu).Select(static m => m.Groups[1].Value).ToList();
        Assert.Equal(["mcr.microsoft.com/dotnet/sdk:10.0-noble", "debian:bookworm-slim", "debian:${DEBIAN_RELEASE}-slim"], bases);
        var standIns = StandIns();
        foreach (var image in bases.SelectMany(static b => b.Contains("${DEBIAN_RELEASE}", StringComparison.Ordinal)
            ? new[] { b.Replace("${DEBIAN_RELEASE}", "bookworm", StringComparison.Ordinal), b.Replace("${DEBIAN_RELEASE}", "trixie", StringComparison.Ordinal) }
            : [b]))
        {
            Assert.True(standIns.Contains(image), $"Dockerfile.aot's cpu target builds FROM {image}, which has no stand-in");
        }

        // The classic builder ignores a "# syntax=" line, BuildKit would fetch its frontend image: none.
        Assert.DoesNotContain("# syntax=", dockerfile);
    }

    [Fact]
    public async Task StandIns_CarryTheirLabel_AndAreCurrent()
    {
        await Docker.RequireImageAsync(Docker.CpuImage);
        var (code, list, error) = await Shell.RunSplitAsync("deploy/images/standins.sh", ["--list"]);
        Assert.True(code == 0, list + error);
        var rows = list.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(static l => l.Split('\t')).ToDictionary(static r => r[0], static r => r[1]);
        Assert.Equal(StandIns().Order(), rows.Keys.Order());
        // After ./build.sh image every name is either a current stand-in or a pulled image, never missing or stale.
        Assert.All(rows, static r => Assert.True(r.Value is "standin" or "upstream", $"{r.Key}: {r.Value}"));
    }

    [GeneratedRegex(@"^\s+""([^|""]+)\|[^""]+""$", RegexOptions.Multiline)]
    private static partial Regex StandinEntry();

    [GeneratedRegex(@"^\s+image: (\S+)$", RegexOptions.Multiline)]
    private static partial Regex ImageLine();

    [GeneratedRegex(@"^  ([a-z-]+):\n((?:    .*\n|\n)*)", RegexOptions.Multiline)]
    private static partial Regex ServiceBlock();

    [GeneratedRegex(@"^\S", RegexOptions.Multiline)]
    private static partial Regex ServicesEnd();

    [GeneratedRegex(@"^FROM (\S+)", RegexOptions.Multiline)]
    private static partial Regex From();
}
