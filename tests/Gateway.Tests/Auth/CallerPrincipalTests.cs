using System.Security.Claims;
using System.Security.Cryptography;
using Gateway.Auth;
using Gateway.RateLimiting;
using Gateway.Redis;
using Gateway.Telemetry;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Tests.Auth;

/// <summary>An authenticated request carries its caller as <c>HttpContext.User</c>, built once per cached credential.</summary>
public sealed class CallerPrincipalTests
{
    [Fact]
    public void UserCaller_Principal_HoldsNameRoleAndId_AndIsBuiltOnce()
    {
        var caller = Caller.ForUser(new AccessClaims(42, "alice", Role.Supervisor, "jti-1", "sid-1", 3, 1, 1, 2));
        var principal = caller.Principal;
        Assert.True(principal.Identity!.IsAuthenticated);
        Assert.Equal("Bearer", principal.Identity.AuthenticationType);
        Assert.Equal("alice", principal.Identity.Name);
        Assert.True(principal.IsInRole("supervisor"));
        Assert.False(principal.IsInRole("admin"));
        Assert.Equal("42", principal.FindFirstValue(ClaimTypes.NameIdentifier));
        Assert.Equal("sid-1", principal.FindFirstValue("sid"));
        Assert.Same(principal, caller.Principal);
    }

    [Fact]
    public void Unauthenticated_Principal_IsNotAuthenticated()
    {
        Assert.False(Caller.Unauthenticated.Principal.Identity!.IsAuthenticated);
    }

    [Fact]
    public async Task Middleware_SetsHttpContextUser_ForAValidToken()
    {
        var codec = new JwtCodec(new SigningKeyRing([new SigningKey("k1", RandomNumberGenerator.GetBytes(32))]), "iss", "aud", 30);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var token = codec.Issue(new AccessClaims(7, "bob", Role.Worker, "j", "s", 0, now, now, now + 600));
        var options = new AuthOptions();
        var authenticator = new Authenticator(codec, new RevocationList(), feed: null, store: null, TimeProvider.System, options);
        var limiter = new RateLimiter(new RedisConnection(new RedisOptions(), NullLogger<RedisConnection>.Instance), TimeProvider.System, NullLogger<RateLimiter>.Instance);
        ClaimsPrincipal? seen = null;
        RequestDelegate endpoint = context =>
        {
            seen = context.User;
            return Task.CompletedTask;
        };
        using var metrics = new GatewayMetrics(new TelemetryOptions(), NullLogger<GatewayMetrics>.Instance);
        var middleware = new AuthMiddleware(endpoint, authenticator, limiter, new RateLimitOptions { Enabled = false }, options, metrics, NullLogger<AuthMiddleware>.Instance);
        var context = new DefaultHttpContext();
        context.SetEndpoint(new Endpoint(endpoint, new EndpointMetadataCollection(new EndpointSpec(Permission.ReadMetadata, RateClass.Caller, "x", null)), "x"));
        context.Request.Headers.Authorization = "Bearer " + token;

        await middleware.InvokeAsync(context);

        Assert.NotNull(seen);
        Assert.Equal("bob", seen!.Identity!.Name);
        Assert.True(seen.IsInRole("worker"));
        Assert.Same(context.GetCaller()!.Principal, seen);
    }
}
