using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Gateway.RateLimiting;
using Gateway.Storage;

namespace Gateway.Auth;

/// <summary>
/// Sessions: log-in, refresh-token rotation (reuse revokes the family), logout and the caller's
/// own password change, which shares the log-in's failure limits and ends every session.
/// </summary>
internal sealed partial class SessionService(
    IAuthStore store,
    JwtCodec jwt,
    PasswordHasher passwords,
    RevocationService revocations,
    FailureLimiter failures,
    RateLimitOptions limits,
    AuthOptions options,
    TimeProvider time,
    ILogger<SessionService> logger)
{
    private const string RefreshPrefix = "rt_";

    public async Task<Outcome<TokenResponse>> LoginAsync(string? username, string? password, string clientAddress, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(username) || password is null)
        {
            return Outcome<TokenResponse>.Fail(IdentityStatus.Invalid, "username and password are required");
        }

        var name = username.Length <= 64 ? username.ToLowerInvariant() : username[..64];
        var user = UserService.CheckUsername(name) is null ? await store.FindUserByNameAsync(name, cancellationToken) : null;
        var attempt = await BeginAttemptAsync(name, user, clientAddress, cancellationToken);
        if (attempt.RetryAfterSeconds > 0)
        {
            Log.LoginThrottled(logger, clientAddress);
            return Throttled<TokenResponse>(attempt.RetryAfterSeconds);
        }

        // Unknown users verify against a dummy hash: the answer takes as long either way.
        var match = await passwords.VerifyAsync(password, user?.PasswordHash);
        if (user is null || !match)
        {
            Log.LoginFailed(logger, clientAddress);
            return Outcome<TokenResponse>.Fail(IdentityStatus.InvalidCredentials, "invalid username or password");
        }

        await attempt.SucceededAsync(failures);
        if (user.Disabled)
        {
            Log.LoginFailed(logger, clientAddress);
            return Outcome<TokenResponse>.Fail(IdentityStatus.Forbidden, "this account is disabled");
        }

        if (!Roles.TryParse(user.Role.AsSpan(), out var role))
        {
            return Outcome<TokenResponse>.Fail(IdentityStatus.Forbidden, "this account has no valid role");
        }

        Log.LoggedIn(logger, user.Id, role.Name());
        var (tokens, first) = NewTokens(user, role, NewId(16), time.GetUtcNow().ToUnixTimeMilliseconds());
        await store.CreateSessionAsync(first, cancellationToken);
        await store.RememberAddressAsync(user.Id, AddressText(clientAddress), time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        return Outcome<TokenResponse>.Ok(tokens);
    }

    /// <summary>
    /// Failures are limited, not attempts (docs/AUTH.md, "Password guessing"). From an address the
    /// user logged in from before, the attempt counts against that address and the pair (account,
    /// address); from anywhere else, against the address and the account. So a flood of wrong
    /// passwords from elsewhere puts the account in backoff for strangers while its owner still
    /// gets in from a known address. Unknown user names are counted like known ones: the answer
    /// does not tell whether an account exists.
    /// </summary>
    private async Task<Attempt> BeginAttemptAsync(string name, UserRecord? user, string clientAddress, CancellationToken cancellationToken)
    {
        if (!limits.Enabled)
        {
            return default;
        }

        var address = AddressText(clientAddress);
        var since = (time.GetUtcNow() - TimeSpan.FromDays(options.KnownAddressDays)).ToUnixTimeMilliseconds();
        var known = user is not null && await store.IsKnownAddressAsync(user.Id, address, since, cancellationToken);
        var byAddress = new FailureKey("login:a:" + address, limits.LoginPerAddress, ForgetOnSuccess: false);
        var byAccount = known
            ? new FailureKey("login:ua:" + name + "|" + address, limits.LoginPerAccount, ForgetOnSuccess: true)
            : new FailureKey("login:u:" + name, limits.LoginPerAccount, ForgetOnSuccess: true);
        return new Attempt(await failures.TryBeginAsync(byAddress, byAccount), byAddress, byAccount);
    }

    private static Outcome<T> Throttled<T>(int retryAfterSeconds)
        where T : class =>
        new(null, IdentityStatus.LockedOut, $"too many failed attempts for this account or from this address; retry in {retryAfterSeconds} s", retryAfterSeconds);

    /// <summary>Client addresses are short (IPv6 is at most 45 characters); anything longer is cut, never stored whole.</summary>
    private static string AddressText(string address) => address.Length <= 64 ? address : address[..64];

    /// <summary>A login or password change under way: charged one failure per counter until it succeeds.</summary>
    private readonly record struct Attempt(int RetryAfterSeconds, FailureKey ByAddress, FailureKey ByAccount)
    {
        public ValueTask SucceededAsync(FailureLimiter limiter) =>
            ByAddress.Key is null ? ValueTask.CompletedTask : limiter.SucceededAsync(ByAddress, ByAccount);
    }

    public async Task<Outcome<TokenResponse>> RefreshAsync(string? refreshToken, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(refreshToken))
        {
            return Outcome<TokenResponse>.Fail(IdentityStatus.Invalid, "refresh_token is required");
        }

        const string invalid = "the refresh token is invalid or has expired; log in again";
        if (!refreshToken.StartsWith(RefreshPrefix, StringComparison.Ordinal) || refreshToken.Length > 128)
        {
            return Outcome<TokenResponse>.Fail(IdentityStatus.InvalidCredentials, invalid);
        }

        var hash = Hash(refreshToken);
        var record = await store.FindRefreshTokenAsync(hash, cancellationToken);
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        var sessionStartedAfter = nowMs - (long)options.SessionDays * 86_400_000;
        if (record is null || record.RevokedAt is not null || record.ExpiresAt <= nowMs
            || record.SessionCreatedAt is not { } sessionCreatedAt || sessionCreatedAt <= sessionStartedAfter)
        {
            return Outcome<TokenResponse>.Fail(IdentityStatus.InvalidCredentials, invalid);
        }

        if (record.UsedAt is not null)
        {
            return await ReuseAsync(record, cancellationToken);
        }

        var user = await store.FindUserAsync(record.UserId, cancellationToken);
        if (user is null || user.Disabled || !Roles.TryParse(user.Role.AsSpan(), out var role))
        {
            await RevokeFamilyAsync(record.FamilyId, cancellationToken);
            return Outcome<TokenResponse>.Fail(IdentityStatus.InvalidCredentials, invalid);
        }

        var (tokens, next) = NewTokens(user, role, record.FamilyId, sessionCreatedAt);
        switch (await store.RotateRefreshTokenAsync(hash, next, nowMs, sessionStartedAfter, cancellationToken))
        {
            case RotationResult.Rotated:
                return Outcome<TokenResponse>.Ok(tokens);
            case RotationResult.Reused:
                return await ReuseAsync(record, cancellationToken);
            default:
                // Revoked, expired or ended meanwhile (a logout of the session while this ran): nothing was issued.
                return Outcome<TokenResponse>.Fail(IdentityStatus.InvalidCredentials, invalid);
        }
    }

    /// <summary>A spent token presented again means two parties hold it: end the whole session.</summary>
    private async Task<Outcome<TokenResponse>> ReuseAsync(RefreshTokenRecord record, CancellationToken cancellationToken)
    {
        await RevokeFamilyAsync(record.FamilyId, cancellationToken);
        Log.RefreshReuse(logger, record.UserId);
        return Outcome<TokenResponse>.Fail(IdentityStatus.InvalidCredentials, "refresh token reuse detected; the session has been revoked, log in again");
    }

    /// <summary>Ends the caller's session: its access token and its refresh family (and the one given, if it is the caller's).</summary>
    public async Task<Outcome<string>> LogoutAsync(Caller caller, string? refreshToken, CancellationToken cancellationToken)
    {
        if (caller.Kind != CallerKind.User || caller.Jti is null || caller.SessionId is null)
        {
            return Outcome<string>.Fail(IdentityStatus.Invalid, "only a user's access token can log out; API keys are revoked with DELETE /v1/keys/{id}");
        }

        await revocations.RevokeTokenAsync(caller.Jti, caller.ExpiresAt, cancellationToken);
        await RevokeFamilyAsync(caller.SessionId, cancellationToken);
        if (!string.IsNullOrEmpty(refreshToken) && refreshToken.Length <= 128)
        {
            var record = await store.FindRefreshTokenAsync(Hash(refreshToken), cancellationToken);
            if (record is not null && record.UserId == caller.Id && record.FamilyId != caller.SessionId)
            {
                await RevokeFamilyAsync(record.FamilyId, cancellationToken);
            }
        }

        return Outcome<string>.Ok("logged out");
    }

    private async Task RevokeFamilyAsync(string familyId, CancellationToken cancellationToken)
    {
        var nowMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var row in await store.RevokeFamilyAsync(familyId, nowMs, cancellationToken))
        {
            var accessExpiresMs = UnixTime.StoredToMilliseconds(row.AccessExpiresAt);
            if (accessExpiresMs > nowMs)
            {
                await revocations.RevokeTokenAsync(row.AccessJti, UnixTime.ToSecondsRoundingUp(accessExpiresMs), cancellationToken);
            }
        }
    }

    /// <summary>
    /// A new access token and refresh token for <paramref name="familyId"/>, not yet stored. The
    /// refresh token lives <c>Auth:RefreshTokenDays</c>, never past the session's absolute end
    /// (<c>Auth:SessionDays</c> after <paramref name="sessionCreatedAt"/>): rotation does not extend a session.
    /// </summary>
    private (TokenResponse Tokens, RefreshTokenRecord Record) NewTokens(UserRecord user, Role role, string familyId, long sessionCreatedAt)
    {
        var now = time.GetUtcNow();
        var lifetime = options.AccessTokenMinutes * 60;
        var claims = new AccessClaims(
            user.Id, user.Username, role, NewId(16), familyId, user.TokenGeneration, now.ToUnixTimeSeconds(), now.ToUnixTimeSeconds(), now.ToUnixTimeSeconds() + lifetime);
        var refresh = RefreshPrefix + NewId(32);
        var record = new RefreshTokenRecord
        {
            TokenHash = Hash(refresh),
            FamilyId = familyId,
            UserId = user.Id,
            AccessJti = claims.Jti,
            AccessExpiresAt = UnixTime.ToMilliseconds(claims.Expires),
            CreatedAt = now.ToUnixTimeMilliseconds(),
            ExpiresAt = Math.Min(now.AddDays(options.RefreshTokenDays).ToUnixTimeMilliseconds(), sessionCreatedAt + (long)options.SessionDays * 86_400_000),
        };
        return (new TokenResponse { AccessToken = jwt.Issue(claims), RefreshToken = refresh, ExpiresIn = lifetime }, record);
    }

    /// <summary>
    /// Changes the caller's own password after checking the current one; ends every session of
    /// the user. Wrong current passwords count as failed logins (the same per-account and
    /// per-address limits), so a stolen access token cannot be used to guess the password.
    /// </summary>
    public async Task<Outcome<string>> ChangePasswordAsync(Caller caller, ChangePasswordRequest request, string clientAddress, CancellationToken cancellationToken)
    {
        if (caller.Kind != CallerKind.User)
        {
            return Outcome<string>.Fail(IdentityStatus.Invalid, "this credential is an API key, not a user");
        }

        if (request.CurrentPassword is null)
        {
            return Outcome<string>.Fail(IdentityStatus.Invalid, "current_password is required");
        }

        if (PasswordHasher.Check(request.NewPassword) is { } error)
        {
            return Outcome<string>.Fail(IdentityStatus.Invalid, "new_password: " + error);
        }

        var user = await store.FindUserAsync(caller.Id, cancellationToken);
        if (user is null)
        {
            return Outcome<string>.Fail(IdentityStatus.Forbidden, "current_password is wrong");
        }

        var attempt = await BeginAttemptAsync(user.Username, user, clientAddress, cancellationToken);
        if (attempt.RetryAfterSeconds > 0)
        {
            Log.LoginThrottled(logger, clientAddress);
            return Throttled<string>(attempt.RetryAfterSeconds);
        }

        if (!await passwords.VerifyAsync(request.CurrentPassword, user.PasswordHash))
        {
            Log.PasswordChangeFailed(logger, user.Id, clientAddress);
            return Outcome<string>.Fail(IdentityStatus.Forbidden, "current_password is wrong");
        }

        await attempt.SucceededAsync(failures);

        var hash = await passwords.HashAsync(request.NewPassword!);
        var result = await store.UpdateUserAsync(user.Id, null, null, hash, time.GetUtcNow().ToUnixTimeMilliseconds(), endSessions: true, cancellationToken);
        if (result.Generation is not { } generation)
        {
            return Outcome<string>.Fail(IdentityStatus.Forbidden, "this account no longer exists");
        }

        await revocations.UserGenerationRaisedAsync(user.Id, generation);
        Log.PasswordChanged(logger, user.Id);
        return Outcome<string>.Ok("password changed; log in again");
    }

    internal static string NewId(int bytes) => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(bytes));

    /// <summary>Refresh tokens are 256 random bits: SHA-256 is all the store needs.</summary>
    private static string Hash(string token) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static partial class Log
    {
        [LoggerMessage(500, LogLevel.Information, "User {UserId} logged in with role {Role}")]
        public static partial void LoggedIn(ILogger logger, long userId, string role);

        [LoggerMessage(501, LogLevel.Warning, "Failed login from {Address}")]
        public static partial void LoginFailed(ILogger logger, string address);

        [LoggerMessage(502, LogLevel.Warning, "Login or password change from {Address} refused: too many failures for the account or the address")]
        public static partial void LoginThrottled(ILogger logger, string address);

        [LoggerMessage(503, LogLevel.Warning, "Refresh token reuse for user {UserId}: the session was revoked")]
        public static partial void RefreshReuse(ILogger logger, long userId);

        [LoggerMessage(507, LogLevel.Information, "User {UserId} changed their password; their sessions are revoked")]
        public static partial void PasswordChanged(ILogger logger, long userId);

        [LoggerMessage(513, LogLevel.Warning, "User {UserId} gave a wrong current password to change it, from {Address}")]
        public static partial void PasswordChangeFailed(ILogger logger, long userId, string address);
    }
}
