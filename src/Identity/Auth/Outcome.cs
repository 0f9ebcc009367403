using System.Globalization;

namespace Gateway.Auth;

/// <summary>What an identity operation came to; the HTTP layer (src/Gateway/Auth) picks the status code.</summary>
internal enum IdentityStatus
{
    Ok,

    /// <summary>The request itself is wrong (a bad username, a weak password, an unknown role).</summary>
    Invalid,

    /// <summary>Wrong username or password, or a refresh token that is unknown, used or expired.</summary>
    InvalidCredentials,

    /// <summary>The caller may not do this (another user's session, the last admin).</summary>
    Forbidden,

    NotFound,

    /// <summary>The name is taken, or the change conflicts with the current state.</summary>
    Conflict,

    /// <summary>Too many failures: locked out until <see cref="Outcome{T}.RetryAfterSeconds"/> have passed.</summary>
    LockedOut,
}

/// <summary>The result of an identity operation: a value, or a status with an error message.</summary>
internal readonly record struct Outcome<T>(T? Value, IdentityStatus Status, string? Error, int RetryAfterSeconds = 0)
    where T : class
{
    public static Outcome<T> Ok(T value) => new(value, IdentityStatus.Ok, null);

    public static Outcome<T> Fail(IdentityStatus status, string error) => new(null, status, error);
}

/// <summary>How identity responses write times: ISO 8601, UTC, milliseconds.</summary>
internal static class IdentityText
{
    public static string Iso(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
