using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests;

/// <summary>Bodies over <c>Gateway:MaxRequestBodyBytes</c> get 413 and the server keeps serving.</summary>
public sealed class BodyLimitTests : IAsyncLifetime
{
    private GatewayServer _server = null!;
    private string _repository = null!;

    public async Task InitializeAsync()
    {
        _repository = ReferenceModels.CreateRepository("identity");
        _server = await GatewayServer.StartAsync(_repository, "--Gateway:MaxRequestBodyBytes", "100000");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    [Fact]
    public async Task DeclaredLengthOverLimit_Is413BeforeTheBodyIsSent()
    {
        // A client that sends Expect: 100-continue learns of the limit before sending the body.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity/infer") { Content = new ByteArrayContent(new byte[100_001]) };
        request.Headers.ExpectContinue = true;
        using var response = await _server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Contains("request body of 100001 bytes exceeds the limit of 100000 bytes", json.RootElement.GetProperty("error").GetString());
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task ChunkedBodyOverLimit_Is413()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity/infer")
        {
            Content = new StreamContent(new MemoryStream(new byte[150_000])),
        };
        request.Headers.TransferEncodingChunked = true;
        using var response = await _server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        await AssertStillServingAsync();
    }

    [Fact]
    public async Task BodyAtLimit_IsParsed()
    {
        var padding = new string(' ', 100_000 - 120);
        var body = "{\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":[1,16],\"data\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]" + padding;
        body += new string(' ', 100_000 - body.Length - 1) + "}";
        Assert.Equal(100_000, body.Length);
        using var response = await _server.PostJsonAsync("/v2/models/identity/infer", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private async Task AssertStillServingAsync()
    {
        using var response = await _server.PostJsonAsync(
            "/v2/models/identity/infer", """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}]}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
