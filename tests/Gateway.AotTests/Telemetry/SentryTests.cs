using System.Text;
using Gateway.Testing;

namespace Gateway.AotTests.Telemetry;

/// <summary>
/// With a DSN, the AOT binary's Sentry SDK sends error log entries as events to the DSN's host
/// (here a receiver on loopback standing in for Sentry's ingest endpoint).
/// </summary>
public sealed class SentryTests
{
    [Fact]
    public async Task ErrorLogs_BecomeEvents_WhenADsnIsSet()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var repository = ReferenceModels.CreateRepository("identity");
        Directory.CreateDirectory(Path.Combine(repository, "broken", "1"));
        File.WriteAllText(Path.Combine(repository, "broken", "1", "model.onnx"), "not an onnx model");
        var dsn = $"http://0123456789abcdef0123456789abcdef@127.0.0.1:{receiver.Address.Port}/42";
        await using var gateway = AotGateway.Start(repository, new Dictionary<string, string> { ["SENTRY_DSN"] = dsn });
        await gateway.WaitReadyAsync();
        Assert.True(await LoopbackReceiver.WaitUntilAsync(() => Events(receiver).Any(e => e.Contains("broken", StringComparison.Ordinal)), TimeSpan.FromSeconds(30)),
            "no Sentry event for the failed model load:\n" + gateway.Output);
        var envelope = Events(receiver).First(e => e.Contains("broken", StringComparison.Ordinal));
        Assert.Contains("failed to load", envelope);
        Assert.Contains("inference-gateway@", envelope);
    }

    private static IEnumerable<string> Events(LoopbackReceiver receiver) =>
        receiver.Bodies("/api/42/envelope/").Select(body => Encoding.UTF8.GetString(body));
}
