using System.Security.Cryptography;
using System.Text;
using Gateway.Auth;
using Gateway.RateLimiting;
using Gateway.Redis;
using Gateway.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Auth;

/// <summary>
/// The role table (<see cref="Roles.Table"/>): roles are sets of permissions, and what derives
/// from the table (parsing, names, rate rules, access decisions) is what the wire and the
/// stores have always had.
/// </summary>
public sealed class RoleTableTests
{
    [Fact]
    public void EveryRole_HasExactlyOneRow_AndTheNamesOnTheWireAreUnchanged()
    {
        foreach (var role in Enum.GetValues<Role>())
        {
            var rows = Roles.Table.Count(r => r.Role == role);
            Assert.True(role == Role.None ? rows == 0 : rows == 1, $"{role} has {rows} rows in Roles.Table");
        }

        // Tokens issued before and users in the stores carry these names.
        Assert.Equal(["viewer", "worker", "supervisor", "admin"], Roles.Table.Select(r => r.Name));
        Assert.Equal("admin, supervisor, worker, viewer", Roles.Accepted);
        Assert.Equal("none", Role.None.Name());
        Assert.Equal(["open", "viewer", "worker", "supervisor", "admin"], MetricsSettings.Roles);
    }

    [Theory]
    [InlineData("viewer", "Viewer")]
    [InlineData("worker", "Worker")]
    [InlineData("supervisor", "Supervisor")]
    [InlineData("admin", "Admin")]
    [InlineData("Admin", "None")]
    [InlineData("none", "None")]
    [InlineData("", "None")]
    [InlineData("admins", "None")]
    [InlineData("admi", "None")]
    public void TryParse_TextAndUtf8_AcceptExactlyTheTableNames(string text, string expectedRole)
    {
        var expected = Enum.Parse<Role>(expectedRole);
        Assert.Equal(expected != Role.None, Roles.TryParse(text.AsSpan(), out var fromText));
        Assert.Equal(expected, fromText);
        Assert.Equal(expected != Role.None, Roles.TryParse(Encoding.UTF8.GetBytes(text), out var fromBytes));
        Assert.Equal(expected, fromBytes);
        if (expected != Role.None)
        {
            Assert.Equal(text, expected.Name());
        }
    }

    [Fact]
    public void PermissionSets_AreNested_SoEveryDecisionIsTheOldRank()
    {
        // Before the table, a role could do what every role below it could (viewer < worker <
        // supervisor < admin). Holding all of another role's permissions must mean exactly that.
        foreach (var caller in Roles.Table)
        {
            foreach (var needed in Roles.Table)
            {
                Assert.Equal(caller.Role >= needed.Role, caller.Holds(needed.Permissions));
            }
        }

        Assert.Equal(Role.Viewer, Roles.Least(Permission.ReadMetadata));
        Assert.Equal(Role.Viewer, Roles.Least(Permission.OwnAccount));
        Assert.Equal(Role.Worker, Roles.Least(Permission.Infer));
        Assert.Equal(Role.Supervisor, Roles.Least(Permission.ControlModels));
        Assert.Equal(Role.Supervisor, Roles.Least(Permission.ReadUsage));
        Assert.Equal(Role.Admin, Roles.Least(Permission.ManageUsers));
        Assert.Equal(Role.Admin, Roles.Least(Permission.ManageKeys));
    }

    [Fact]
    public void SyntheticTable_ThePermissionSetDecidesAccess_NotTheRank()
    {
        // A table where the lowest role may infer but not read metadata, and a fifth role
        // that may only read usage: access follows the sets.
        var auditor = (Role)5;
        RoleDefinition[] table =
        [
            new(Role.Viewer, "viewer", Permission.Infer, 1, 1),
            new(Role.Admin, "admin", Permission.ReadMetadata | Permission.Infer | Permission.ReadUsage, 1, 1),
            new(auditor, "auditor", Permission.ReadUsage, 1, 1),
        ];
        var viewer = table[0];
        var admin = table[1];
        var audit = table[2];

        Assert.True(EndpointAccess.Needs(Permission.Infer).Allows(viewer, table, Role.Admin));
        Assert.False(EndpointAccess.Needs(Permission.ReadMetadata).Allows(viewer, table, Role.Admin));
        Assert.True(EndpointAccess.Needs(Permission.ReadUsage).Allows(audit, table, Role.Admin));
        Assert.False(EndpointAccess.Needs(Permission.Infer).Allows(audit, table, Role.Admin));
        Assert.False(EndpointAccess.Needs(Permission.Infer).Allows(null, table, Role.Admin));
        Assert.True(EndpointAccess.Open.Allows(null, table, Role.Admin));

        // "At least a role" and the privileged role mean: every permission of that role.
        Assert.True(EndpointAccess.AtLeast(Role.Viewer).Allows(admin, table, Role.Admin));
        Assert.False(EndpointAccess.AtLeast(Role.Viewer).Allows(audit, table, Role.Admin));
        Assert.False(EndpointAccess.Privileged.Allows(viewer, table, Role.Admin));
        Assert.True(EndpointAccess.Privileged.Allows(admin, table, Role.Admin));
        Assert.True(EndpointAccess.Privileged.Allows(viewer, table, Role.Viewer));

        // The matrix has a column per row of the table it is given.
        var rows = new List<PermissionRow>
        {
            new("POST", "/infer", new EndpointSpec(Permission.Infer, RateClass.Caller, "infer", null)),
            new("GET", "/stats", new EndpointSpec(Permission.ReadUsage, RateClass.Caller, "usage", null)),
            new("GET", "/live", new EndpointSpec(EndpointAccess.Open, RateClass.None, "live", null)),
        };
        Assert.Equal(
            """
            | method | path | open | viewer | admin | auditor | what |
            |---|---|---|---|---|---|---|
            | POST | `/infer` | no | yes | yes | no | infer |
            | GET | `/stats` | no | no | yes | yes | usage |
            | GET | `/live` | yes | yes | yes | yes | live |

            """.ReplaceLineEndings("\n"),
            PermissionMatrix.ToMarkdown(rows, table));
    }

    [Fact]
    public void RoleIndex_RefusesNoneAndTwoRowsForOneRole()
    {
        Assert.Throws<ArgumentException>(() => Roles.Index([new(Role.None, "none", Permission.None, 1, 1)]));
        Assert.Throws<ArgumentException>(() => Roles.Index([new(Role.Viewer, "viewer", Permission.None, 1, 1), new(Role.Viewer, "reader", Permission.None, 1, 1)]));
        Assert.Throws<ArgumentOutOfRangeException>(() => EndpointAccess.Needs(Permission.Infer | Permission.ReadUsage));
        Assert.Throws<ArgumentOutOfRangeException>(() => EndpointAccess.Needs(Permission.None));
        Assert.Throws<ArgumentOutOfRangeException>(() => EndpointAccess.AtLeast(Role.None));
    }

    [Fact]
    public void RateRules_DefaultFromTheTable_AndRateLimitRoleKeysOverrideOneFieldAtATime()
    {
        var defaults = new RateLimitOptions();
        foreach (var row in Roles.Table)
        {
            Assert.Equal(row.PerSecond, defaults.ForRole(row.Role).PerSecond);
            Assert.Equal(row.Burst, defaults.ForRole(row.Role).Burst);
        }

        Assert.Equal((50, 100), (defaults.ForRole(Role.Viewer).PerSecond, defaults.ForRole(Role.Viewer).Burst));
        Assert.Equal((1000, 2000), (defaults.ForRole(Role.Admin).PerSecond, defaults.ForRole(Role.Admin).Burst));
        Assert.Same(defaults.ForRole(Role.Viewer), defaults.ForRole(Role.None));

        // The keys operators already set (RateLimit:Viewer:PerSecond, RateLimit__Admin__Burst) keep working.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RateLimit:Viewer:PerSecond"] = "7",
            ["RateLimit:admin:Burst"] = "9",
        }).Build();
        var limits = new RateLimitOptions();
        limits.BindRoles(configuration.GetSection(RateLimitOptions.SectionName));
        Assert.Equal((7, 100), (limits.ForRole(Role.Viewer).PerSecond, limits.ForRole(Role.Viewer).Burst));
        Assert.Equal((1000, 9), (limits.ForRole(Role.Admin).PerSecond, limits.ForRole(Role.Admin).Burst));
        Assert.Equal((1000, 2000), (limits.ForRole(Role.Worker).PerSecond, limits.ForRole(Role.Worker).Burst));
        Assert.Null(limits.Validate());

        var bad = new RateLimitOptions();
        bad.BindRoles(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["RateLimit:Supervisor:Burst"] = "0" }).Build().GetSection("RateLimit"));
        Assert.Equal("RateLimit:Supervisor:Burst must be between 1 and 10000000 (got 0)", bad.Validate());
    }

    [Theory]
    [InlineData("Viewer", "Infer", 403)]
    [InlineData("Worker", "Infer", 200)]
    [InlineData("Worker", "ControlModels", 403)]
    [InlineData("Admin", "ManageKeys", 200)]
    public async Task Middleware_DecidesByTheCallersPermissions(string roleName, string permission, int expected)
    {
        var role = Enum.Parse<Role>(roleName);
        var needed = Enum.Parse<Permission>(permission);
        var (middleware, context, _) = Setup(role, new EndpointSpec(needed, RateClass.Caller, "x", null), rateLimited: false);

        await middleware.InvokeAsync(context);

        Assert.Equal(expected, context.Response.StatusCode);
        if (expected == 403)
        {
            context.Response.Body.Position = 0;
            var body = await new StreamReader(context.Response.Body).ReadToEndAsync();
            Assert.Contains($"role '{role.Name()}' may not call GET /x; it needs '{Roles.Least(needed).Name()}' or higher", body);
        }
    }

    [Fact]
    public async Task Middleware_ChargesTheCallersBucket_OnlyForRateClassCaller()
    {
        var (charged, chargedContext, _) = Setup(Role.Worker, new EndpointSpec(Permission.Infer, RateClass.Caller, "x", null), rateLimited: true);
        await charged.InvokeAsync(chargedContext);
        Assert.Equal(200, chargedContext.Response.StatusCode);
        Assert.Equal("2000", chargedContext.Response.Headers["RateLimit-Limit"].ToString());

        var (free, freeContext, _) = Setup(Role.Worker, new EndpointSpec(Permission.Infer, RateClass.None, "x", null), rateLimited: true);
        await free.InvokeAsync(freeContext);
        Assert.Equal(200, freeContext.Response.StatusCode);
        Assert.False(freeContext.Response.Headers.ContainsKey("RateLimit-Limit"));
    }

    [Fact]
    public async Task Middleware_DeniesAnEndpointWithoutADeclaration_ToEveryone()
    {
        var (middleware, context, reached) = Setup(Role.Admin, spec: null, rateLimited: false);

        await middleware.InvokeAsync(context);

        Assert.Equal(403, context.Response.StatusCode);
        Assert.False(reached());
    }

    private static (AuthMiddleware Middleware, HttpContext Context, Func<bool> Reached) Setup(Role role, EndpointSpec? spec, bool rateLimited)
    {
        var codec = new JwtCodec(new SigningKeyRing([new SigningKey("k1", RandomNumberGenerator.GetBytes(32))]), "iss", "aud", 30);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var token = codec.Issue(new AccessClaims(7, "bob", role, "j", "s", 0, now, now, now + 600));
        var options = new AuthOptions();
        var authenticator = new Authenticator(codec, new RevocationList(), feed: null, store: null, TimeProvider.System, options);
        var limiter = new RateLimiter(new RedisConnection(new RedisOptions(), NullLogger<RedisConnection>.Instance), TimeProvider.System, NullLogger<RateLimiter>.Instance);
        var reached = false;
        RequestDelegate endpoint = context =>
        {
            reached = true;
            context.Response.StatusCode = 200;
            return Task.CompletedTask;
        };
        var metrics = new GatewayMetrics(new TelemetryOptions(), NullLogger<GatewayMetrics>.Instance);
        var middleware = new AuthMiddleware(endpoint, authenticator, limiter, new RateLimitOptions { Enabled = rateLimited }, options, metrics, NullLogger<AuthMiddleware>.Instance);
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = "/x";
        context.Response.Body = new MemoryStream();
        context.SetEndpoint(new Endpoint(endpoint, spec is null ? EndpointMetadataCollection.Empty : new EndpointMetadataCollection(spec), "x"));
        context.Request.Headers.Authorization = "Bearer " + token;
        return (middleware, context, () => reached);
    }
}
