using System.Text.RegularExpressions;
using Gateway.Testing;

namespace Gateway.DeployTests;

/// <summary>
/// The Prometheus alerting rules of deploy/alerts: valid (<c>promtool check rules</c>), each
/// alert fired and not fired as its unit tests say (<c>promtool test rules</c>), built only on
/// metrics the gateway exports, and each linked to a RUNBOOK.md section that exists.
/// </summary>
public sealed partial class AlertTests
{
    private static string Alerts => Path.Combine(ReferenceModels.RepositoryRoot, "deploy", "alerts");

    private static string Rules => Path.Combine(Alerts, "gateway.rules.yml");

    /// <summary>The alert names of gateway.rules.yml.</summary>
    public static List<string> AlertNames() =>
        [.. AlertName().Matches(File.ReadAllText(Rules)).Select(static m => m.Groups[1].Value)];

    [Fact]
    public async Task Rules_PassPromtoolCheck_AndTheirUnitTests()
    {
        var (code, output) = await Shell.RunAsync("promtool", ["check", "rules", Rules]);
        Assert.True(code == 0, output);
        Assert.Contains($"SUCCESS: {AlertNames().Count} rules found", output);
        (code, output) = await Shell.RunAsync("promtool", ["test", "rules", "gateway.rules.test.yml"], Alerts);
        Assert.True(code == 0, output);

        // Every alert has a unit test, so none goes untested by promtool.
        var tests = File.ReadAllText(Path.Combine(Alerts, "gateway.rules.test.yml"));
        Assert.All(AlertNames(), name => Assert.Contains($"alertname: {name}\n", tests));
        Assert.Equal(["GatewayGpuMemoryHigh", "GatewayHighErrorRatio", "GatewayInferenceLatencyHigh", "GatewayNotReady", "GatewayQueueRejections", "GatewayReplicaDown", "GatewayReplicaNotReady"], AlertNames().Order());
    }

    [Theory]
    [InlineData("> 0.05", "> 0.5", "GatewayHighErrorRatio")]
    [InlineData(") > 0.5", ") > 1", "GatewayInferenceLatencyHigh")]
    [InlineData("probe_success{job=\"gateway-readiness\"} == 0", "probe_success{job=\"gateway-readiness\"} == 2", "GatewayReplicaNotReady")]
    [InlineData("runbook: docs/RUNBOOK.md#alert-gatewaygpumemoryhigh", "runbook: docs/RUNBOOK.md#elsewhere", "GatewayGpuMemoryHigh")]
    public async Task BrokenRule_FailsItsUnitTest(string from, string to, string alert)
    {
        var copy = Directory.CreateTempSubdirectory("gateway-alerts-").FullName;
        try
        {
            var rules = File.ReadAllText(Rules);
            Assert.Contains(from, rules);
            File.WriteAllText(Path.Combine(copy, "gateway.rules.yml"), rules.Replace(from, to, StringComparison.Ordinal));
            File.Copy(Path.Combine(Alerts, "gateway.rules.test.yml"), Path.Combine(copy, "gateway.rules.test.yml"));
            var (code, output) = await Shell.RunAsync("promtool", ["test", "rules", "gateway.rules.test.yml"], copy);
            Assert.NotEqual(0, code);
            Assert.Contains($"alertname: {alert}", output);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }
    }

    [Fact]
    public void Rules_UseOnlyMetricsTheGatewayExports()
    {
        var exported = File.ReadAllText(Path.Combine(ReferenceModels.RepositoryRoot, "src", "Gateway", "Telemetry", "GatewayMetrics.cs"));
        var rules = File.ReadAllText(Rules);
        var expressions = string.Join('\n', Expression().Matches(rules).Select(static m => m.Groups[1].Value));
        var names = MetricName().Matches(expressions).Select(static m => m.Value).Distinct().ToList();
        Assert.Contains("gateway_http_request_duration_seconds_count", names);
        foreach (var name in names)
        {
            // Histogram series are the histogram's name with a suffix.
            var metric = Regex.Replace(name, "_(bucket|count|sum)$", string.Empty);
            Assert.True(exported.Contains($"\"{metric}\"", StringComparison.Ordinal), $"{name} is not created in GatewayMetrics.cs");
        }

        // The label values the rules match on are the gateway's own.
        Assert.Contains("\"queue_full\", \"deadline\"", exported);
        Assert.Contains("LabelNames = [\"model\", \"version\", \"phase\"]", exported);
        Assert.Contains("LabelNames = [\"method\", \"route\", \"code\"]", exported);
    }

    [Fact]
    public void EveryAlert_LinksToARunbookSectionThatExists()
    {
        var runbook = File.ReadAllText(Path.Combine(ReferenceModels.RepositoryRoot, "docs", "RUNBOOK.md"));
        // GitHub's anchors: lower case, spaces to hyphens, punctuation dropped.
        var anchors = Heading().Matches(runbook)
            .Select(static m => Regex.Replace(m.Groups[1].Value.Trim().ToLowerInvariant(), @"[^\w\- ]", string.Empty).Replace(' ', '-'))
            .ToHashSet(StringComparer.Ordinal);
        var links = Runbook().Matches(File.ReadAllText(Rules)).Select(static m => m.Groups[1].Value).ToList();
        Assert.Equal(AlertNames().Count, links.Count);
        foreach (var anchor in links)
        {
            Assert.True(anchors.Contains(anchor), $"docs/RUNBOOK.md has no section #{anchor}");
        }

        // Each alert's section links to at least one incident, and every incident link lands.
        var incidents = IncidentAnchor().Matches(runbook).Select(static m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("incident-redis-down", incidents);
        foreach (var alert in AlertNames())
        {
            var start = runbook.IndexOf($"### Alert: {alert}\n", StringComparison.Ordinal);
            Assert.True(start >= 0, $"no section for {alert}");
            var end = runbook.IndexOf("\n#", start + 4, StringComparison.Ordinal);
            var section = runbook[start..(end < 0 ? runbook.Length : end)];
            var targets = IncidentLink().Matches(section).Select(static m => m.Groups[1].Value).ToList();
            Assert.True(targets.Count > 0, $"the section of {alert} links to no incident");
            Assert.All(targets, target => Assert.True(incidents.Contains(target), $"{alert} links to #{target}, which is not an incident anchor"));
        }
    }

    [GeneratedRegex(@"- alert: (\w+)")]
    private static partial Regex AlertName();

    [GeneratedRegex(@"expr: (?:\|\n)?((?:.|\n)*?)\n\s+for:")]
    private static partial Regex Expression();

    [GeneratedRegex(@"\bgateway_[a-z_]+\b")]
    private static partial Regex MetricName();

    [GeneratedRegex(@"^#+ (.+)$", RegexOptions.Multiline)]
    private static partial Regex Heading();

    [GeneratedRegex(@"<a id=""(incident-[\w-]+)""></a>")]
    private static partial Regex IncidentAnchor();

    [GeneratedRegex(@"\]\(#(incident-[\w-]+)\)")]
    private static partial Regex IncidentLink();

    [GeneratedRegex(@"runbook: docs/RUNBOOK\.md#([\w-]+)")]
    private static partial Regex Runbook();
}
