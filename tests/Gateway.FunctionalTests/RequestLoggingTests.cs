using System.Net;
using Gateway.Testing;

namespace Gateway.FunctionalTests;

/// <summary>
/// ASP.NET Core's per-request log lines are off by default (they cost a third of the constant-GET
/// throughput, docs/PERFORMANCE.md) while the gateway's own lines stay, and configuration can
/// turn them back on.
/// </summary>
public class RequestLoggingTests
{
    [Fact]
    public async Task RequestLines_OffByDefault_GatewayLinesKept()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        try
        {
            await using var server = await GatewayServer.StartAsync(repository, "--Logging:LogLevel:Default", "Information");
            using var response = await server.Client.GetAsync("/v2/health/live");

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains(server.Logs.Lines, static line => line.Contains("Gateway.Repository.ModelRepository[102]", StringComparison.Ordinal));
            Assert.DoesNotContain(server.Logs.Lines, static line => line.Contains("Microsoft.AspNetCore.Hosting.Diagnostics", StringComparison.Ordinal));
            Assert.DoesNotContain(server.Logs.Lines, static line => line.Contains("Microsoft.AspNetCore.Routing", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }

    [Fact]
    public async Task RequestLines_ConfigurationTurnsThemOn()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        try
        {
            await using var server = await GatewayServer.StartAsync(
                repository, "--Logging:LogLevel:Default", "Information", "--Logging:LogLevel:Microsoft.AspNetCore", "Information");
            using var response = await server.Client.GetAsync("/v2/health/live");

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

            // "Request starting" is written before the endpoint runs, so it is there once the answer is.
            Assert.Contains(server.Logs.Lines, static line => line.Contains("Microsoft.AspNetCore.Hosting.Diagnostics[1]", StringComparison.Ordinal) && line.Contains("/v2/health/live", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }
}
