using Gateway.Protocol;
using Gateway.RateLimiting;
using Gateway.Telemetry;
using Microsoft.Net.Http.Headers;

namespace Gateway.Auth;

/// <summary>
/// Enforces each endpoint's declaration (<see cref="EndpointSpec"/>) after routing has chosen the
/// endpoint: open endpoints pass; the others need credentials whose role holds the permissions
/// declared; endpoints that declare nothing are denied (so a forgotten declaration never makes
/// one public). Then the declared rate class charges the caller's bucket.
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

    private readonly Permission _privilegedPermissions = options.Privileged.Permissions();

    public Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        if (endpoint is null)
        {
            return next(context);
        }

        if (endpoint.Metadata.GetMetadata<EndpointSpec>() is not { } spec)
        {
            return DenyUndeclared(context, endpoint);
        }

        var access = spec.Access;
        if (access.Kind == AccessKind.Open)
        {
            return next(context);
        }

        var required = access.Kind switch
        {
            AccessKind.Permission => access.Permission,
            AccessKind.Privileged => _privilegedPermissions,
            _ => access.Role.Permissions(),
        };

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
        return pending.IsCompletedSuccessfully ? Authorize(context, pending.Result, required, spec.Rate) : AwaitAuthenticationAsync(context, pending, required, spec.Rate);
    }

    private async Task AwaitAuthenticationAsync(HttpContext context, ValueTask<AuthResult> pending, Permission required, RateClass rate) =>
        await Authorize(context, await pending, required, rate);

    private Task Authorize(HttpContext context, in AuthResult result, Permission required, RateClass rate)
    {
        if (!result.Succeeded)
        {
            return Reject(context, result);
        }

        var caller = result.Caller!;
        if ((caller.Role.Permissions() & required) != required)
        {
            return Forbid(context, caller, required);
        }

        context.Features.Set(caller);
        context.User = caller.Principal;
        if (!limits.Enabled || rate == RateClass.None)
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
    private Task Forbid(HttpContext context, Caller caller, Permission required)
    {
        metrics.Forbidden();
        // "Higher" as the role table orders them: the least role holding the permissions, and those after it that hold them too.
        return HttpErrors.WriteAsync(
            context,
            StatusCodes.Status403Forbidden,
            $"role '{caller.Role.Name()}' may not call {context.Request.Method} {context.Request.Path}; it needs '{Roles.Least(required).Name()}' or higher");
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
        [LoggerMessage(530, LogLevel.Error, "Endpoint {Endpoint} declares no access (.Declare(...)): denied by default")]
        public static partial void Undeclared(ILogger logger, string endpoint);
    }
}
