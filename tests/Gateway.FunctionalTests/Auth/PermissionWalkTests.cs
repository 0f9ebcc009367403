using System.Net;
using Gateway.Auth;
using Gateway.Testing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// Walks every endpoint of the server's endpoint data source, with no credentials and with a
/// token of every role of the role table, and checks the answer against the endpoint's own
/// declaration (<see cref="EndpointSpec"/>): open endpoints never ask for credentials, the
/// others answer 401 without them, 403 to a role without the permissions declared and serve to
/// one with them. Also checks that every mapped endpoint has a declaration.
/// </summary>
public sealed class PermissionWalkTests : IAsyncLifetime
{
    private GatewayServer _server = null!;
    private string _repository = null!;
    private readonly Dictionary<Role, (string Access, string Refresh, string Password, string Name)> _tokens = [];

    public async Task InitializeAsync()
    {
        // "spare" is what the walk loads and unloads, so the other endpoints keep finding "identity".
        _repository = ReferenceModels.CreateRepository("identity", "add_sub");
        Directory.Move(Path.Combine(_repository, "add_sub"), Path.Combine(_repository, "spare"));
        _server = await GatewayServer.StartAsync(_repository);
        foreach (var role in Roles.Table.Select(static r => r.Role))
        {
            var name = "walk-" + role.Name();
            var (_, access, refresh) = await AuthApi.UserAsync(_server, name, role.Name());
            _tokens[role] = (access, refresh, "user-passphrase-1", name);
        }
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    private List<(string Method, string Pattern, Endpoint Endpoint)> MappedEndpoints()
    {
        var result = new List<(string, string, Endpoint)>();
        foreach (var source in _server.Services.GetServices<EndpointDataSource>())
        {
            foreach (var endpoint in source.Endpoints)
            {
                var route = Assert.IsType<RouteEndpoint>(endpoint);
                var pattern = route.RoutePattern.RawText!;
                var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"];
                foreach (var method in methods)
                {
                    result.Add((method, pattern.StartsWith("{*", StringComparison.Ordinal) ? "(any other path)" : pattern, endpoint));
                }
            }
        }

        return result;
    }

    [Fact]
    public void EveryMappedEndpoint_HasADeclaration_AndTheMatrixListsIt()
    {
        var mapped = MappedEndpoints();
        Assert.True(mapped.Count >= 25, $"only {mapped.Count} endpoints found");
        // The API documentation is open: it describes the API and lists no models, users or keys.
        Assert.Contains(mapped, e => e.Method == "GET" && e.Pattern == "/openapi/v1.json" && Spec(e.Endpoint).Access.Kind == AccessKind.Open);
        Assert.Contains(mapped, e => e.Method == "GET" && e.Pattern == "/docs" && Spec(e.Endpoint).Access.Kind == AccessKind.Open);
        var matrix = PermissionMatrix.FromEndpoints(_server.Services.GetServices<EndpointDataSource>().SelectMany(static s => s.Endpoints));
        foreach (var (method, pattern, endpoint) in mapped)
        {
            var row = Assert.Single(matrix, r => r.Method == method && r.Pattern == pattern);
            Assert.Same(Spec(endpoint), row.Spec);
        }

        Assert.Equal(mapped.Count, matrix.Count);
    }

    [Fact]
    public async Task EveryEndpoint_WithEveryRoleAndWithout_AnswersAsTheMatrixSays()
    {
        var checkedCount = 0;
        foreach (var (method, pattern, endpoint) in MappedEndpoints())
        {
            var access = Spec(endpoint).Access;
            var model = pattern.StartsWith("/v2/repository/models/", StringComparison.Ordinal) ? "spare" : "identity";
            var path = pattern == "(any other path)" ? "/no/such/path" : pattern.Replace("{model}", model).Replace("{version}", "1").Replace("{id}", "999999");
            var httpMethod = method == "*" ? HttpMethod.Get : new HttpMethod(method);

            // No credentials.
            using (var response = await AuthApi.SendAsync(_server, httpMethod, path, null, Body(httpMethod)))
            {
                var status = (int)response.StatusCode;
                if (access.Kind == AccessKind.Open)
                {
                    Assert.True(status is not 401 and not 403, $"{method} {path} is open but answered {status} without credentials");
                }
                else
                {
                    Assert.True(status == 401, $"{method} {path} answered {status} without credentials, not 401");
                    Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
                }
            }

            foreach (var role in _tokens.Keys)
            {
                var token = path == "/v1/auth/logout" ? await FreshTokenAsync(role) : _tokens[role].Access;
                using var response = await AuthApi.SendAsync(_server, httpMethod, path, token, Body(httpMethod));
                var status = (int)response.StatusCode;
                // As the server is configured: Auth:PrivilegedRole is its default, supervisor.
                var allowed = access.Allows(Roles.Find(role), Roles.Table, Role.Supervisor);
                if (allowed)
                {
                    Assert.True(status is not 401 and not 403, $"{method} {path} as {role.Name()} answered {status}: {await response.Content.ReadAsStringAsync()}");
                    Assert.True(status < 500, $"{method} {path} as {role.Name()} answered {status}");
                }
                else
                {
                    Assert.True(status == 403, $"{method} {path} as {role.Name()} answered {status}, not 403");
                    Assert.Contains(role.Name(), await AuthApi.ErrorAsync(response, HttpStatusCode.Forbidden));
                }

                checkedCount++;
            }
        }

        Assert.True(checkedCount >= 100);
    }

    [Fact]
    public void DocsTable_IsTheMatrixOfTheRunningServer()
    {
        // This server serves no gRPC (Grpc:Port unset): the doc's gRPC rows, checked against a host
        // with gRPC on by EndpointDeclarationTests, are left out of the comparison.
        var docs = string.Join('\n', File.ReadAllText(Path.Combine(ReferenceModels.RepositoryRoot, "docs", "AUTH.md")).ReplaceLineEndings("\n")
            .Split('\n').Where(static line => !line.Contains("`/inference.GRPCInferenceService/", StringComparison.Ordinal)));
        var table = PermissionMatrix.ToMarkdown(PermissionMatrix.FromEndpoints(_server.Services.GetServices<EndpointDataSource>().SelectMany(static s => s.Endpoints)));
        Assert.DoesNotContain("GRPCInferenceService", table, StringComparison.Ordinal);
        Assert.True(docs.Contains(table, StringComparison.Ordinal), "docs/AUTH.md must hold the permission matrix exactly as the endpoints declare it:\n" + table);
    }

    private static EndpointSpec Spec(Endpoint endpoint)
    {
        var spec = endpoint.Metadata.GetMetadata<EndpointSpec>();
        Assert.True(spec is not null, $"{endpoint.DisplayName} has no declaration");
        return spec;
    }

    private async Task<string> FreshTokenAsync(Role role)
    {
        var tokens = await _server.LoginAsync(_tokens[role].Name, _tokens[role].Password);
        return tokens.GetProperty("access_token").GetString()!;
    }

    private static StringContent? Body(HttpMethod method) => method == HttpMethod.Get || method == HttpMethod.Delete ? null : AuthApi.Raw("{}");
}
