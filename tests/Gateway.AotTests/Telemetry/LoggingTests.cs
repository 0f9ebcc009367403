using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.AotTests.Telemetry;

/// <summary>
/// The AOT binary's console logs: JSON lines by default, each line written during a request
/// carrying its correlation, trace and span ids; plain text on request; and no secret a client
/// sends (credentials, cookies, request bodies) ever written, even at the most verbose level.
/// </summary>
public sealed class LoggingTests
{
    [Fact]
    public async Task JsonLines_CarryCorrelationTraceAndSpanIds()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var gateway = AotGateway.Start(repository);
        await gateway.WaitReadyAsync();
        var trace = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray());
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v2/repository/models/identity/load"))
        {
            request.Headers.Add("traceparent", $"00-{trace}-00f067aa0ba902b7-01");
            request.Headers.Add("X-Correlation-ID", "corr-42");
            using var response = await gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("corr-42", response.Headers.GetValues("X-Correlation-ID").Single());
        }

        await gateway.StopAsync();
        var lines = gateway.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var entries = lines.Select(line => JsonDocument.Parse(line).RootElement).ToList();
        Assert.NotEmpty(entries);
        Assert.All(entries, entry => Assert.True(entry.TryGetProperty("LogLevel", out _) && entry.TryGetProperty("Category", out _)));

        var reloaded = entries.Where(e => e.GetProperty("EventId").GetInt32() == 102).ToList();
        Assert.Equal(2, reloaded.Count); // start-up (no request) and the reload (in a request)
        var scope = Assert.Single(reloaded[1].GetProperty("Scopes").EnumerateArray(), s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("correlation_id", out _));
        Assert.Equal("corr-42", scope.GetProperty("correlation_id").GetString());
        Assert.Equal(trace, scope.GetProperty("trace_id").GetString());
        Assert.Matches("^[0-9a-f]{16}$", scope.GetProperty("span_id").GetString());
        Assert.DoesNotContain(reloaded[0].GetProperty("Scopes").EnumerateArray(), s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("correlation_id", out _));
    }

    [Fact]
    public async Task TextFormat_OneReadableLinePerEntry()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var gateway = AotGateway.Start(repository, "--Telemetry:LogFormat", "text");
        await gateway.WaitReadyAsync();
        await gateway.StopAsync();
        var loaded = Assert.Single(gateway.Output.Split('\n'), line => line.Contains("Loaded model identity version 1", StringComparison.Ordinal));
        Assert.StartsWith("info:", loaded.TrimStart()[(loaded.TrimStart().IndexOf(' ') + 1)..]);
        Assert.DoesNotContain(gateway.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => line.TrimStart().StartsWith('{'));
    }

    [Fact]
    public async Task Secrets_NeverReachTheLog_EvenAtTrace()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        // ASP.NET Core's categories default to Warning (GatewayHost); name them so their request lines are written too.
        await using var gateway = AotGateway.Start(repository, "--Logging:LogLevel:Default", "Trace", "--Logging:LogLevel:Microsoft.AspNetCore", "Trace");
        await gateway.WaitReadyAsync();
        string[] secrets = ["Bearer-s3cr3t-7f1d", "apikey-s3cr3t-92ab", "cookie-s3cr3t-c0de", "hunter2-s3cr3t-pass", "tensor-s3cr3t-5151"];

        // Bodies holding secrets, from an authorised caller: one the model ignores the secrets of,
        // one the parser rejects, one for an unknown model; all with a cookie holding one more.
        var bodies = new[]
        {
            ("/v2/models/identity/infer", $$"""{"id":"{{secrets[4]}}","parameters":{"password":"{{secrets[3]}}"},"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}""", HttpStatusCode.OK),
            ("/v2/models/identity/infer", $$"""{"password":"{{secrets[3]}}","inputs":[{"name":"{{secrets[4]}}","datatype":"FP32","shape":[1,16],"data":[1]}]}""", HttpStatusCode.BadRequest),
            ("/v2/models/nope/infer", $$"""{"password":"{{secrets[3]}}"}""", HttpStatusCode.NotFound),
        };
        foreach (var (path, body, status) in bodies)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Add("Cookie", $"session={secrets[2]}");
            using var response = await gateway.Client.SendAsync(request);
            Assert.Equal(status, response.StatusCode);
        }

        // Credentials that are secrets themselves: a bearer token, an API key, and a login.
        using (var anonymous = new HttpClient { BaseAddress = gateway.Address })
        {
            using var bearer = new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity/infer") { Content = new StringContent(bodies[0].Item2) };
            bearer.Headers.TryAddWithoutValidation("Authorization", "Bearer " + secrets[0]);
            using (var response = await anonymous.SendAsync(bearer))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }

            using var key = new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity/infer") { Content = new StringContent(bodies[0].Item2) };
            key.Headers.Add("X-API-Key", secrets[1]);
            using (var response = await anonymous.SendAsync(key))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            }

            using var login = await anonymous.PostAsync("/v1/auth/login", new StringContent($$"""{"username":"admin","password":"{{secrets[3]}}"}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
        }

        await gateway.StopAsync();
        var output = gateway.Output;
        Assert.Contains("/v2/models/identity/infer", output); // Trace level did log these requests
        Assert.DoesNotContain(AotGateway.AdminPassword, output);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(secret, output);
        }
    }
}
