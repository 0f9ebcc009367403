using Gateway.Auth;
using Gateway.Hosting;
using Gateway.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace Gateway.Tests.Auth;

/// <summary>
/// Every endpoint carries its one declaration (<see cref="EndpointSpec"/>), and the permission
/// matrix in docs/AUTH.md is the one computed from the host's endpoints. The host is built, not
/// started: no port, no store, no model is loaded.
/// </summary>
public sealed class EndpointDeclarationTests
{
    private const string TableHeader = "| method | path | open |";

    /// <summary>Set to 1 to rewrite docs/AUTH.md's matrix from the endpoints instead of failing on a difference.</summary>
    private const string WriteVariable = "GATEWAY_WRITE_DOCS";

    [Fact]
    public async Task HostEndpoints_AreAllDeclared_AndTheMatrixIsTheOneInAuthMd()
    {
        var rows = await HostMatrixAsync();
        Assert.True(rows.Count >= 37, $"only {rows.Count} rows");
        Assert.Contains(rows, r => r.Method == "*" && r.Pattern == PermissionMatrix.FallbackPattern);
        Assert.Contains(rows, r => r.Pattern == "/inference.GRPCInferenceService/ModelInfer" && r.Spec.Access.Permission == Permission.Infer);
        // Every REST endpoint is an OpenAPI operation; the catch-all and the gRPC methods are not.
        Assert.All(rows, r => Assert.True(
            r.Spec.Operation is not null || r.Pattern == PermissionMatrix.FallbackPattern || r.Pattern.Contains("GRPCInferenceService", StringComparison.Ordinal) || r.Pattern.StartsWith("{unimplementedService}", StringComparison.Ordinal),
            $"{r.Method} {r.Pattern} has no OpenAPI operation"));

        var generated = PermissionMatrix.ToMarkdown(rows);
        var path = Path.Combine(ReferenceModels.RepositoryRoot, "docs", "AUTH.md");
        var docs = File.ReadAllText(path).ReplaceLineEndings("\n");
        if (Environment.GetEnvironmentVariable(WriteVariable) == "1")
        {
            var start = docs.IndexOf(TableHeader, StringComparison.Ordinal);
            var end = docs.IndexOf("\n\n", start, StringComparison.Ordinal) + 1;
            docs = docs[..start] + generated + docs[end..];
            File.WriteAllText(path, docs);
        }

        Assert.True(
            docs.Contains(generated, StringComparison.Ordinal),
            $"docs/AUTH.md must hold the permission matrix as the endpoints declare it ({WriteVariable}=1 rewrites it):\n" + generated);
    }

    [Fact]
    public async Task HostEndpoints_OperationIdsAreUnique()
    {
        var ids = (await HostMatrixAsync()).Select(r => r.Spec.Operation?.Id).OfType<string>().ToList();
        Assert.Equal(ids.Count, ids.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void AnEndpointWithoutADeclaration_IsReportedByName()
    {
        RequestDelegate handler = static _ => Task.CompletedTask;
        var declared = Route("/declared", "GET", handler, new EndpointSpec(Permission.ReadMetadata, RateClass.Caller, "declared", null));
        var forgotten = Route("/forgotten/{id}", "POST", handler, spec: null);

        Assert.Equal(["POST /forgotten/{id}"], EndpointDeclarations.Undeclared([declared, forgotten]));
        var error = Assert.Throws<InvalidOperationException>(() => PermissionMatrix.FromEndpoints([declared, forgotten]));
        Assert.Contains("POST /forgotten/{id}", error.Message);
        Assert.DoesNotContain("/declared", error.Message);

        var row = Assert.Single(PermissionMatrix.FromEndpoints([declared]));
        Assert.Equal(("GET", "/declared"), (row.Method, row.Pattern));
    }

    [Fact]
    public void Declare_AddsTheSpec_AndRefusesToChargeAnOpenEndpoint()
    {
        var builder = new ConventionBuilder();
        builder.Declare(Permission.Infer, "inference", null);
        var endpoint = new RouteEndpointBuilder(static _ => Task.CompletedTask, RoutePatternFactory.Parse("/x"), 0);
        builder.Apply(endpoint);
        var spec = Assert.Single(endpoint.Metadata.OfType<EndpointSpec>());
        Assert.Equal((AccessKind.Permission, Permission.Infer, RateClass.Caller), (spec.Access.Kind, spec.Access.Permission, spec.Rate));

        new ConventionBuilder().Declare(EndpointAccess.Open, "probe", null);
        Assert.Throws<ArgumentException>(() => new ConventionBuilder().Declare(EndpointAccess.Open, "probe", null, RateClass.Caller));
    }

    private static async Task<List<PermissionRow>> HostMatrixAsync()
    {
        var scratch = Directory.CreateTempSubdirectory("endpoint-decl-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(scratch, "models"));
            await using var app = GatewayHost.Build(
            [
                "--urls", "http://127.0.0.1:0", "--model-repository", Path.Combine(scratch, "models"),
                "--Storage:SqlitePath", Path.Combine(scratch, "gateway.db"), "--Secrets:Directory", Path.Combine(scratch, "secrets"),
                // gRPC on (built, not started: nothing listens), so its methods are in the matrix too.
                "--Grpc:Port", "8001",
            ]);
            return PermissionMatrix.FromEndpoints(((IEndpointRouteBuilder)app).DataSources.SelectMany(static s => s.Endpoints));
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static RouteEndpoint Route(string pattern, string method, RequestDelegate handler, EndpointSpec? spec)
    {
        var builder = new RouteEndpointBuilder(handler, RoutePatternFactory.Parse(pattern), 0);
        builder.Metadata.Add(new HttpMethodMetadata([method]));
        if (spec is not null)
        {
            builder.Metadata.Add(spec);
        }

        return (RouteEndpoint)builder.Build();
    }

    /// <summary>Collects conventions as a mapping's builder would, to apply them to an endpoint by hand.</summary>
    private sealed class ConventionBuilder : IEndpointConventionBuilder
    {
        private readonly List<Action<EndpointBuilder>> _conventions = [];

        public void Add(Action<EndpointBuilder> convention) => _conventions.Add(convention);

        public void Apply(EndpointBuilder endpoint)
        {
            foreach (var convention in _conventions)
            {
                convention(endpoint);
            }
        }
    }
}
