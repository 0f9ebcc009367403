using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Documentation;

/// <summary>
/// The <c>/docs</c> page in Debian's headless Chromium (tests/apidocs/docs-page.mjs drives it with
/// playwright-core): it renders every operation of the OpenAPI document, and its forms log in,
/// run an inference with the token they took, create an API key and send it as X-API-Key.
/// </summary>
public sealed class DocsPageTests
{
    private const string InferPath = "/v2/models/{model}/infer";
    private const string LoginPath = "/v1/auth/login";

    [Fact]
    public async Task Page_InHeadlessChromium_ListsEveryOperation_AndItsFormsSendRequests()
    {
        Assert.True(File.Exists(Environment.GetEnvironmentVariable("CHROMIUM") ?? "/usr/bin/chromium"),
            "Debian's chromium is not installed (./build.sh test installs it)");
        var repository = ReferenceModels.CreateRepository("identity");
        try
        {
            await using var server = await GatewayServer.StartAsync(repository);
            var (_, document) = await OpenApiDocumentTests.FetchAsync(server);
            var (code, stdout, stderr) = await NodeTools.RunAsync(
                "docs-page.mjs", server.Address.ToString().TrimEnd('/'), "admin", GatewayServer.AdminPassword, "identity");
            Assert.True(code == 0, stdout + stderr);
            var report = JsonDocument.Parse(stdout).RootElement;

            Assert.Equal(200, report.GetProperty("status").GetInt32());
            Assert.Empty(report.GetProperty("errors").EnumerateArray());

            // Rendered by the page's script from the document: not in the HTML the server sent.
            var source = report.GetProperty("source").GetString()!;
            Assert.DoesNotContain(InferPath, source);
            Assert.DoesNotContain(LoginPath, source);
            var rendered = report.GetProperty("operations").EnumerateArray()
                .Select(o => (Method: o.GetProperty("method").GetString()!, Path: o.GetProperty("path").GetString()!, Role: o.GetProperty("role").GetString()!))
                .ToList();
            Assert.Contains(("POST", InferPath, "worker"), rendered);
            Assert.Contains(("POST", LoginPath, "open"), rendered);

            // Every operation of the document, once.
            var expected = new List<(string, string)>();
            foreach (var path in document.GetProperty("paths").EnumerateObject())
            {
                foreach (var operation in path.Value.EnumerateObject())
                {
                    expected.Add((operation.Name.ToUpperInvariant(), path.Name));
                }
            }

            Assert.Equal(expected.Order(), rendered.Select(o => (o.Method, o.Path)).Order());

            var tries = report.GetProperty("tries");
            Assert.Equal(401, tries.GetProperty("unauthenticated").GetProperty("status").GetInt32());
            Assert.Equal(200, tries.GetProperty("login").GetProperty("status").GetInt32());
            Assert.StartsWith("Sending Authorization: Bearer", report.GetProperty("credentialState").GetString());

            var infer = tries.GetProperty("infer");
            Assert.True(infer.GetProperty("status").GetInt32() == 200, infer.ToString());
            Assert.Contains("server-timing: queue;dur=", infer.GetProperty("headers").GetString());
            var output = JsonDocument.Parse(infer.GetProperty("body").GetString()!).RootElement.GetProperty("outputs")[0];
            Assert.Equal(16, output.GetProperty("data").GetArrayLength());
            Assert.Equal(15.5, output.GetProperty("data")[15].GetDouble());

            Assert.Equal(201, tries.GetProperty("createKey").GetProperty("status").GetInt32());
            var withKey = tries.GetProperty("metadataWithKey");
            Assert.Equal(200, withKey.GetProperty("status").GetInt32());
            Assert.Contains("binary_tensor_data", withKey.GetProperty("body").GetString());
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }
}
