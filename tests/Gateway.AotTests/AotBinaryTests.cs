using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.AotTests;

/// <summary>The Native-AOT binary serves every reference sample, rejects bad input and shuts down cleanly.</summary>
public class AotBinaryTests
{
    [Fact]
    public async Task ReferenceSamples_JsonAndBinary_MatchThroughTheAotBinary()
    {
        var repository = ReferenceModels.CreateRepository(ReferenceModels.Names);
        await using var gateway = AotGateway.Start(repository);
        await gateway.WaitReadyAsync();
        foreach (var row in ReferenceModels.AllSamples())
        {
            var sample = ReferenceModels.Load((string)row[0], (int)row[1]);
            using (var response = await gateway.Client.PostAsync(
                $"/v2/models/{sample.Model}/infer", new StringContent(V2Requests.Json(sample), Encoding.UTF8, "application/json")))
            {
                var text = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"{sample}: {text}");
                using var json = JsonDocument.Parse(text);
                var output = V2Requests.Output(json, sample.OutputName);
                Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), V2Requests.Data(output)), 0, ReferenceModels.Tolerance);
            }

            var header = Encoding.UTF8.GetBytes(V2Requests.BinaryHeader(sample));
            var body = header.Concat(sample.Inputs.SelectMany(i => i.Data)).ToArray();
            var content = new ByteArrayContent(body);
            content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
            using (var response = await gateway.Client.PostAsync($"/v2/models/{sample.Model}/infer", content))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var bytes = await response.Content.ReadAsByteArrayAsync();
                var jsonLength = int.Parse(response.Headers.GetValues("Inference-Header-Content-Length").Single(), System.Globalization.CultureInfo.InvariantCulture);
                using var json = JsonDocument.Parse(bytes.AsMemory(0, jsonLength));
                var first = json.RootElement.GetProperty("outputs")[0];
                var size = first.GetProperty("parameters").GetProperty("binary_data_size").GetInt32();
                var values = ReferenceModels.Values(first.GetProperty("datatype").GetString()!, bytes.AsSpan(jsonLength, size));
                Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), values), 0, ReferenceModels.Tolerance);
            }
        }
    }

    [Fact]
    public async Task BadInput_ClearError_AndTheProcessKeepsServing()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var gateway = AotGateway.Start(repository);
        await gateway.WaitReadyAsync();
        string[] bodies =
        [
            "{",
            """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1]}]}""",
            """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[9223372036854775807,9223372036854775807],"data":[1]}]}""",
            """{"inputs":[{"name":"X","datatype":"FP32","shape":[1,16],"data":[1]}]}""",
        ];
        foreach (var body in bodies)
        {
            using var response = await gateway.Client.PostAsync("/v2/models/identity/infer", new StringContent(body));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("error").GetString()));
        }

        using var ok = await gateway.Client.PostAsync(
            "/v2/models/identity/infer", new StringContent("""{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}"""));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.False(gateway.Process.HasExited);
    }

    [Fact]
    public async Task InvalidSetting_ExitsWithCode2NamingTheKey()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var gateway = AotGateway.Start(repository, "--Gateway:MaxRequestBodyBytes", "5");
        await gateway.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2, gateway.Process.ExitCode);
        Assert.Contains("Gateway:MaxRequestBodyBytes", gateway.Output);
    }

    [Fact]
    public async Task AddressInUse_ExitsWithCode3SayingSo()
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port;
        var repository = ReferenceModels.CreateRepository("identity");

        // The last --urls wins: the port another listener holds.
        await using var gateway = AotGateway.Start(repository, "--urls", $"http://127.0.0.1:{taken}");
        await gateway.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(3, gateway.Process.ExitCode);
        Assert.Contains($"gateway: cannot listen: Failed to bind to address http://127.0.0.1:{taken}: address already in use.", gateway.Output);
        Assert.DoesNotContain("Unhandled exception", gateway.Output);
    }

    [Fact]
    public async Task SigTerm_ShutsDownCleanly()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var gateway = AotGateway.Start(repository);
        await gateway.WaitReadyAsync();
        Assert.Equal(0, Kill(gateway.Process.Id, 15));
        await gateway.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(0, gateway.Process.ExitCode);
    }

    [Fact]
    public async Task ProbeMode_ExitsZeroWhenReady_OneWhenNot()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        await using var gateway = AotGateway.Start(repository);
        await gateway.WaitReadyAsync();
        Assert.Equal(0, await RunProbeAsync(new Uri(gateway.Address, "/v2/health/ready").ToString()));
        Assert.Equal(1, await RunProbeAsync(new Uri(gateway.Address, "/v2/models/none/ready").ToString()));
        Assert.Equal(1, await RunProbeAsync($"http://127.0.0.1:{FreePort.Next()}/v2/health/ready"));
        Assert.Equal(2, await RunProbeAsync("ftp://example"));
    }

    private static async Task<int> RunProbeAsync(string url)
    {
        using var probe = Process.Start(new ProcessStartInfo(GatewayProcess.BinaryPath, ["--probe", url]) { RedirectStandardError = true })!;
        await probe.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return probe.ExitCode;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
