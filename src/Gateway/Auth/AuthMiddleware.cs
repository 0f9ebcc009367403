using Gateway.Protocol;
using Gateway.RateLimiting;
using Gateway.Telemetry;
using Microsoft.Net.Http.Headers;

namespace Gateway.Auth;

/// <summary>
/// Enforces the permission matrix on every request, after routing has chosen the endpoint:
/// open endpoints pass; endpoints that declare a role need credentials holding it; endpoints
/// that declare nothing are denied (so a forgotten declaration never makes one public). Then
/// the caller's rate limit applies.
/// </summary>
/// <remarks>
/// PERF: written without <c>async</c> so a request whose credential is cached and whose rate
/// limit is answered in process runs straight through to the endpoint, with no state machine
/// and no allocation (bench/Gateway.Benchmarks/Auth/AuthenticationBenchmarks.cs).
/// </remarks>
internal sealed partial class AuthMiddleware(
    RequestDelegate next,
    Authenticator authenticator,
    RateLimiter limiter,
    RateLimitOptions limits,
    AuthOptions options,
    GatewayMetrics metrics,
    ILogger<AuthMiddleware> logger)
{
    public const string ApiKeyHeader = "X-API-Key";

    private readonly Role _privileged = options.Privileged;

    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null)
        {
            return next(context);
        }

        Role required;
        var metadata = endpoint.Metadata;
        if (metadata.GetMetadata<RoleRequirement>() is { } requirement)
        {
            required = requirement.Minimum;
        }
        else if (metadata.GetMetadata<OpenAccess>() is not null)
        {
            return next(context);
        }
        else if (metadata.GetMetadata<PrivilegedAccess>() is not null)
        {
            required = _privileged;
        }
        else
        {
            return DenyUndeclared(context, endpoint);
        }

        if (options.Disabled)
        {
            context.Features.Set(Caller.Unauthenticated);
            context.User = Caller.Unauthenticated.Principal;
            return next(context);
        }

        var headers = context.Request.Headers;
        var authorization = headers.Authorization;
        var apiKey = headers[ApiKeyHeader];
        if (authorization.Count > 1 || apiKey.Count > 1 || (authorization.Count == 1 && apiKey.Count == 1))
        {
            return Reject(context, AuthResult.Unauthorized("send exactly one credential: one Authorization header or one X-API-Key header"));
        }

        var pending = authenticator.AuthenticateAsync(
            authorization.Count == 1 ? authorization[0] : null, apiKey.Count == 1 ? apiKey[0] : null, context.Connection.RemoteIpAddress, context.RequestAborted);
        return pending.IsCompletedSuccessfully ? Authorize(context, pending.Result, required) : AwaitAuthenticationAsync(context, pending, required);
    }

    private async Task AwaitAuthenticationAsync(HttpContext context, ValueTask<AuthResult> pending, Role required) =>
        await Authorize(context, await pending, required);

    private Task Authorize(HttpContext context, in AuthResult result, Role required)
    {
        if (!result.Succeeded)
        {
            return Reject(context, result);
        }

        var caller = result.Caller!;
        if (caller.Role < required)
        {
            return Forbid(context, caller, required);
        }

        context.Features.Set(caller);
        context.User = caller.Principal;
        if (!limits.Enabled)
        {
            return next(context);
        }

        var decision = limiter.AcquireAsync(caller.RateKey, caller.RateLimit ?? limits.ForRole(caller.Role));
        return decision.IsCompletedSuccessfully ? Limit(context, decision.Result) : AwaitLimitAsync(context, decision);
    }

    private async Task AwaitLimitAsync(HttpContext context, ValueTask<RateDecision> decision) => await Limit(context, await decision);

    private Task Limit(HttpContext context, in RateDecision decision)
    {
        RateLimitHeaders.Write(context.Response, decision);
        if (decision.Allowed)
        {
            return next(context);
        }

        metrics.RateLimited();
        return HttpErrors.WriteAsync(context, StatusCodes.Status429TooManyRequests, $"rate limit exceeded; retry in {decision.RetryAfterSeconds} s");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private Task Reject(HttpContext context, in AuthResult result)
    {
        if (result.Status == StatusCodes.Status401Unauthorized)
        {
            metrics.Unauthorised();
            context.Response.Headers[HeaderNames.WWWAuthenticate] = context.Request.Headers.Authorization.Count > 0 || context.Request.Headers.ContainsKey(ApiKeyHeader)
                ? "Bearer error=\"invalid_token\""
                : "Bearer";
        }
        else if (result.Status == StatusCodes.Status503ServiceUnavailable)
        {
            context.Response.Headers.RetryAfter = "1";
        }
        else if (result.Status == StatusCodes.Status429TooManyRequests)
        {
            metrics.RateLimited();
            context.Response.Headers.RetryAfter = result.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return HttpErrors.WriteAsync(context, result.Status, result.Error ?? "unauthorized");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private Task Forbid(HttpContext context, Caller caller, Role required)
    {
        metrics.Forbidden();
        return HttpErrors.WriteAsync(
            context,
            StatusCodes.Status403Forbidden,
            $"role '{caller.Role.Name()}' may not call {context.Request.Method} {context.Request.Path}; it needs '{required.Name()}' or higher");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private Task DenyUndeclared(HttpContext context, Endpoint endpoint)
    {
        Log.Undeclared(logger, endpoint.DisplayName ?? context.Request.Path.Value ?? "?");
        metrics.Forbidden();
        return HttpErrors.WriteAsync(context, StatusCodes.Status403Forbidden, "this endpoint declares no access rule, so it is denied to everyone");
    }

    private static partial class Log
    {
        [LoggerMessage(530, LogLevel.Error, "Endpoint {Endpoint} declares no access (RequireRole, RequirePrivileged or AllowOpen): denied by default")]
        public static partial void Undeclared(ILogger logger, string endpoint);
    }
}
