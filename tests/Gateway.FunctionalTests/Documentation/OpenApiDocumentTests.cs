using System.Net;
using System.Text;
using System.Text.Json;
using Gateway.Auth;
using Gateway.FunctionalTests.Auth;
using Gateway.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.FunctionalTests.Documentation;

/// <summary>
/// <c>/openapi/v1.json</c> from the real host: every endpoint the server maps is in it with its
/// method and the security its access declares, it is valid OpenAPI 3 (an independent validator),
/// and the schemas it gives are the shapes the server really sends.
/// </summary>
public sealed class OpenApiDocumentTests(OpenApiDocumentTests.Fixture fixture) : IClassFixture<OpenApiDocumentTests.Fixture>
{
    private readonly GatewayServer _server = fixture.Server;
    private readonly JsonElement _document = fixture.Document;
    private readonly string _documentText = fixture.DocumentText;

    /// <summary>One server and its document for every test here.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private string _repository = null!;

        public GatewayServer Server { get; private set; } = null!;

        public JsonElement Document { get; private set; }

        public string DocumentText { get; private set; } = string.Empty;

        public async Task InitializeAsync()
        {
            _repository = ReferenceModels.CreateRepository("identity");
            Server = await GatewayServer.StartAsync(_repository);
            (DocumentText, Document) = await FetchAsync(Server);
        }

        public async Task DisposeAsync()
        {
            await Server.DisposeAsync();
            Directory.Delete(_repository, recursive: true);
        }
    }

    /// <summary>The document as a client without credentials gets it (it is open).</summary>
    internal static async Task<(string Text, JsonElement Json)> FetchAsync(GatewayServer server)
    {
        using var client = server.NewClient();
        using var response = await client.GetAsync("/openapi/v1.json");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (text, JsonDocument.Parse(text).RootElement.Clone());
    }

    private static List<(string Method, string Pattern, Endpoint Endpoint)> MappedEndpoints(GatewayServer server)
    {
        var result = new List<(string, string, Endpoint)>();
        foreach (var source in server.Services.GetServices<EndpointDataSource>())
        {
            foreach (var endpoint in source.Endpoints)
            {
                var route = Assert.IsType<RouteEndpoint>(endpoint);
                foreach (var method in endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"])
                {
                    result.Add((method, route.RoutePattern.RawText!, endpoint));
                }
            }
        }

        return result;
    }

    private static JsonElement Operation(JsonElement document, string method, string pattern)
    {
        Assert.True(document.GetProperty("paths").TryGetProperty(pattern, out var item), $"{pattern} is mapped but not in the document");
        Assert.True(item.TryGetProperty(method.ToLowerInvariant(), out var operation), $"{method} {pattern} is mapped but the document has no {method.ToLowerInvariant()} operation there");
        return operation;
    }

    private static string ExpectedRole(EndpointAccess access, string privileged) => access.Kind switch
    {
        AccessKind.Open => "open",
        AccessKind.Privileged => privileged,
        AccessKind.Role => access.Role.Name(),
        _ => Roles.Least(access.Permission).Name(),
    };

    [Fact]
    public void EveryMappedEndpoint_IsInTheDocument_WithItsMethodAndSecurity()
    {
        var mapped = MappedEndpoints(_server);
        var documented = 0;
        foreach (var (method, pattern, endpoint) in mapped)
        {
            if (pattern.StartsWith("{*", StringComparison.Ordinal))
            {
                // The catch-all 404 is no operation; the document's description says how it answers.
                Assert.Equal("*", method);
                continue;
            }

            documented++;
            var operation = Operation(_document, method, pattern);
            var spec = endpoint.Metadata.GetMetadata<EndpointSpec>();
            Assert.True(spec is not null, $"{method} {pattern} has no declaration");
            var role = ExpectedRole(spec.Access, "supervisor");
            Assert.Equal(spec.Operation?.Id, operation.GetProperty("operationId").GetString());
            Assert.Equal(role, operation.GetProperty("x-required-role").GetString());

            // Described, not just listed: an id, a tag, and at least one success.
            Assert.True(operation.TryGetProperty("operationId", out _), $"{method} {pattern} has no operation in its declaration");
            Assert.NotEqual("undocumented", operation.GetProperty("tags")[0].GetString());
            var responses = operation.GetProperty("responses");
            Assert.Contains(responses.EnumerateObject(), r => r.Name.StartsWith('2'));

            if (role == "open")
            {
                Assert.True(!operation.TryGetProperty("security", out var none) || none.GetArrayLength() == 0, $"{method} {pattern} is open but lists security");
            }
            else
            {
                // Either credential, each alone: [{"bearer": []}, {"apiKey": []}].
                var security = operation.GetProperty("security").EnumerateArray().Select(r => string.Join('+', r.EnumerateObject().Select(p => p.Name))).ToList();
                Assert.Equal(["bearer", "apiKey"], security);
                Assert.True(responses.TryGetProperty("401", out _), $"{method} {pattern} needs a credential but does not document 401");
                Assert.True(responses.TryGetProperty("403", out _), $"{method} {pattern} needs a role but does not document 403");
            }
        }

        // Nothing in the document that the server does not map.
        var operations = _document.GetProperty("paths").EnumerateObject().Sum(p => p.Value.EnumerateObject().Count(o => o.Name is "get" or "post" or "put" or "patch" or "delete"));
        Assert.Equal(documented, operations);
        Assert.True(documented >= 36, $"only {documented} operations");
    }

    [Fact]
    public void Document_HasTheSecuritySchemes_AndEveryErrorIsTheErrorBody()
    {
        Assert.StartsWith("3.", _document.GetProperty("openapi").GetString());
        Assert.False(string.IsNullOrEmpty(_document.GetProperty("info").GetProperty("title").GetString()));
        var schemes = _document.GetProperty("components").GetProperty("securitySchemes");
        var bearer = schemes.GetProperty("bearer");
        Assert.Equal("http", bearer.GetProperty("type").GetString());
        Assert.Equal("bearer", bearer.GetProperty("scheme").GetString());
        Assert.Equal("JWT", bearer.GetProperty("bearerFormat").GetString());
        var apiKey = schemes.GetProperty("apiKey");
        Assert.Equal("apiKey", apiKey.GetProperty("type").GetString());
        Assert.Equal("header", apiKey.GetProperty("in").GetString());
        Assert.Equal("X-API-Key", apiKey.GetProperty("name").GetString());

        var error = _document.GetProperty("components").GetProperty("schemas").GetProperty("ErrorResponse");
        Assert.Equal("error", Assert.Single(error.GetProperty("required").EnumerateArray()).GetString());
        foreach (var path in _document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                foreach (var response in operation.Value.GetProperty("responses").EnumerateObject())
                {
                    if (response.Name[0] is not ('4' or '5') || path.Name.StartsWith("/health/", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var schema = response.Value.GetProperty("content").GetProperty("application/json").GetProperty("schema");
                    Assert.True(schema.GetProperty("$ref").GetString() == "#/components/schemas/ErrorResponse", $"{operation.Name} {path.Name} {response.Name} is not the error body");
                }
            }
        }
    }

    [Fact]
    public void Infer_DescribesJsonAndTheBinaryExtension()
    {
        foreach (var pattern in new[] { "/v2/models/{model}/infer", "/v2/models/{model}/versions/{version}/infer" })
        {
            var operation = Operation(_document, "POST", pattern);
            var request = operation.GetProperty("requestBody").GetProperty("content");
            Assert.Equal("#/components/schemas/InferRequestBody", request.GetProperty("application/json").GetProperty("schema").GetProperty("$ref").GetString());
            Assert.Equal("binary", request.GetProperty("application/octet-stream").GetProperty("schema").GetProperty("format").GetString());
            Assert.Contains(operation.GetProperty("parameters").EnumerateArray(),
                p => p.GetProperty("in").GetString() == "header" && p.GetProperty("name").GetString() == "Inference-Header-Content-Length");
            var ok = operation.GetProperty("responses").GetProperty("200");
            Assert.True(ok.GetProperty("headers").TryGetProperty("Inference-Header-Content-Length", out _));
            Assert.True(ok.GetProperty("headers").TryGetProperty("Server-Timing", out _));
            Assert.True(ok.GetProperty("content").TryGetProperty("application/octet-stream", out _));
            foreach (var status in new[] { "400", "403", "404", "413", "429", "500", "503", "504" })
            {
                Assert.True(operation.GetProperty("responses").TryGetProperty(status, out _), $"POST {pattern} does not document {status}");
            }
        }
    }

    [Fact]
    public async Task Document_PassesAnOpenApi3Validator()
    {
        var file = Path.Combine(Directory.CreateTempSubdirectory("openapi-").FullName, "v1.json");
        await File.WriteAllTextAsync(file, _documentText);
        var (code, stdout, stderr) = await NodeTools.RunAsync("validate-openapi.mjs", file);
        Assert.True(code == 0, stdout + stderr);
        Assert.StartsWith("valid: OpenAPI 3.1", stdout);
    }

    [Fact]
    public async Task BrokenDocument_IsCaughtByTheValidator()
    {
        // The same document with a dangling $ref and an operation without responses.
        var broken = _documentText
            .Replace("\"#/components/schemas/ServerMetadataResponse\"", "\"#/components/schemas/NoSuchSchema\"", StringComparison.Ordinal);
        Assert.NotEqual(_documentText, broken);
        var file = Path.Combine(Directory.CreateTempSubdirectory("openapi-").FullName, "broken.json");
        await File.WriteAllTextAsync(file, broken);
        var (code, stdout, _) = await NodeTools.RunAsync("validate-openapi.mjs", file);
        Assert.Equal(1, code);
        Assert.Contains("NoSuchSchema", stdout);
    }

    public static TheoryData<string, string, string, string?> Calls => new()
    {
        { "GET", "/v2", "/v2", null },
        { "GET", "/v2/models/{model}", "/v2/models/identity", null },
        { "GET", "/v2/models/{model}", "/v2/models/no-such-model", null },
        { "GET", "/v2/models/{model}/versions/{version}", "/v2/models/identity/versions/7", null },
        { "GET", "/v2/models/{model}/config", "/v2/models/identity/config", null },
        { "POST", "/v2/models/{model}/infer", "/v2/models/identity/infer", AuthApi.IdentityBody },
        { "POST", "/v2/models/{model}/infer", "/v2/models/identity/infer", "{\"inputs\":[]}" },
        { "POST", "/v2/repository/index", "/v2/repository/index", null },
        { "POST", "/v2/repository/models/{model}/load", "/v2/repository/models/identity/load", null },
        { "GET", "/v2/models/stats", "/v2/models/stats", null },
        { "GET", "/v2/models/{model}/stats", "/v2/models/identity/stats", null },
        { "GET", "/health/details", "/health/details", null },
        { "POST", "/v1/auth/login", "/v1/auth/login", "{\"username\":\"admin\",\"password\":\"" + GatewayServer.AdminPassword + "\"}" },
        { "POST", "/v1/auth/login", "/v1/auth/login", "{\"username\":\"admin\",\"password\":\"wrong-password\"}" },
        { "POST", "/v1/auth/login", "/v1/auth/login", "{\"username\":\"admin\",\"role\":\"admin\"}" },
        { "GET", "/v1/users/me", "/v1/users/me", null },
        { "GET", "/v1/users", "/v1/users", null },
        { "GET", "/v1/users/{id}", "/v1/users/abc", null },
        { "POST", "/v1/keys", "/v1/keys", "{\"name\":\"schema-check\",\"role\":\"viewer\",\"rate_limit\":{\"per_second\":5,\"burst\":10}}" },
        { "GET", "/v1/keys", "/v1/keys", null },
    };

    [Theory]
    [MemberData(nameof(Calls))]
    public async Task RealAnswers_HaveADocumentedStatus_AndMatchTheirSchema(string method, string pattern, string path, string? body)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using var response = await _server.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var responses = Operation(_document, method, pattern).GetProperty("responses");
        Assert.True(responses.TryGetProperty(status, out var documented), $"{method} {path} answered {status}, which the document does not list: {text}");
        var contentType = response.Content.Headers.ContentType?.MediaType;
        Assert.Equal("application/json", contentType);
        Assert.True(documented.GetProperty("content").TryGetProperty("application/json", out var media), $"{method} {path} {status} sent JSON; the document says {documented}");
        var problems = SchemaCheck.Problems(_document, media.GetProperty("schema"), JsonDocument.Parse(text).RootElement);
        Assert.True(problems.Count == 0, $"{method} {path} {status}: {string.Join("; ", problems)}\n{text}");
    }

    [Fact]
    public async Task BinaryInferAnswer_MatchesTheDocumentedHeaderAndSchema()
    {
        using var response = await _server.PostBinaryAsync(
            "/v2/models/identity/infer",
            """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"parameters":{"binary_data_size":64}}],"outputs":[{"name":"OUTPUT0","parameters":{"binary_data":true}}]}""",
            new byte[64]);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        var ok = Operation(_document, "POST", "/v2/models/{model}/infer").GetProperty("responses").GetProperty("200");
        Assert.True(ok.GetProperty("content").TryGetProperty("application/octet-stream", out _));
        foreach (var header in ok.GetProperty("headers").EnumerateObject())
        {
            Assert.True(response.Headers.Contains(header.Name) || response.Content.Headers.Contains(header.Name), $"the documented header {header.Name} is missing");
        }

        var (json, binary) = await GatewayServer.ReadInferResponseAsync(response);
        var schema = _document.GetProperty("components").GetProperty("schemas").GetProperty("InferResponseBody");
        Assert.Empty(SchemaCheck.Problems(_document, schema, json.RootElement));
        Assert.Equal(64, binary.Length);
    }

    [Fact]
    public async Task DocumentAndPage_AreOpen_AndTheDocumentFollowsThePrivilegedRoleSetting()
    {
        var repository = ReferenceModels.CreateRepository("identity");
        try
        {
            await using var server = await GatewayServer.StartAsync(repository, "--Auth:PrivilegedRole", "admin");
            var (_, document) = await FetchAsync(server);
            Assert.Equal("admin", Operation(document, "GET", "/metrics").GetProperty("x-required-role").GetString());
            Assert.Equal("admin", Operation(document, "GET", "/health/details").GetProperty("x-required-role").GetString());
            Assert.Equal("open", Operation(document, "GET", "/docs").GetProperty("x-required-role").GetString());
            Assert.Equal("open", Operation(document, "GET", "/openapi/v1.json").GetProperty("x-required-role").GetString());

            using var client = server.NewClient();
            using var page = await client.GetAsync("/docs");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
            Assert.Contains("script-src 'sha256-", page.Headers.GetValues("Content-Security-Policy").Single());

            // Other document names are not served: the usual 404 body.
            using var other = await client.GetAsync("/openapi/v2.json");
            Assert.Contains("no endpoint", await AuthApi.ErrorAsync(other, HttpStatusCode.NotFound));
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
        }
    }
}
