using Gateway.RateLimiting;

namespace Gateway.Auth;

/// <summary>Where the caller lives on the request.</summary>
internal static class CallerExtensions
{
    /// <summary>The caller set by the auth middleware; null on open endpoints without credentials.</summary>
    public static Caller? GetCaller(this HttpContext context) => context.Features.Get<Caller>();
}

/// <summary>The rate limiter's decision as response headers.</summary>
internal static class RateLimitHeaders
{
    /// <summary>Writes <c>RateLimit-Limit</c>, <c>-Remaining</c>, <c>-Reset</c> and, when refused, <c>Retry-After</c>.</summary>
    public static void Write(HttpResponse response, in RateDecision decision)
    {
        var headers = response.Headers;
        headers["RateLimit-Limit"] = RateLimiter.HeaderValue(decision.Limit);
        headers["RateLimit-Remaining"] = RateLimiter.HeaderValue(decision.Remaining);
        headers["RateLimit-Reset"] = RateLimiter.HeaderValue(decision.ResetSeconds);
        if (!decision.Allowed)
        {
            headers.RetryAfter = RateLimiter.HeaderValue(decision.RetryAfterSeconds);
        }
    }
}

/// <summary>The HTTP status of an authentication outcome: the identity assembly knows none.</summary>
internal static class AuthResultHttp
{
    extension(in AuthResult result)
    {
        /// <summary>200, 401, 429 or 503.</summary>
        public int Status => result.Failure switch
        {
            AuthFailure.None => StatusCodes.Status200OK,
            AuthFailure.Unauthenticated => StatusCodes.Status401Unauthorized,
            AuthFailure.TooManyAttempts => StatusCodes.Status429TooManyRequests,
            _ => StatusCodes.Status503ServiceUnavailable,
        };
    }
}
