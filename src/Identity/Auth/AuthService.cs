using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Gateway.RateLimiting;
using Gateway.Storage;

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

/// <summary>
/// Logins, refresh-token rotation, logout, users and API keys. Endpoints translate HTTP to
/// these calls and back; every rule lives here.
/// </summary>
internal sealed partial class AuthService(
    IAuthStore store,
    JwtCodec jwt,
    PasswordHasher passwords,
    RevocationService revocations,
    FailureLimiter failures,
    RateLimitOptions limits,
    AuthOptions options,
    TimeProvider time,
    ILogger<AuthService> logger)
{
    private const string RefreshPrefix = "rt_";

    /// <summary>Lower-case letters, digits and <c>._@-</c>, 1 to 64 characters.</summary>
    public static string? CheckUsername(string? username)
    {
        if (string.IsNullOrEmpty(username))
        {
            return "username is required";
        }

        if (username.Length > 64)
        {
            return "username must have at most 64 characters";
        }

        foreach (var c in username)
        {
            if (!char.IsAsciiLetterLower(c) && !char.IsAsciiDigit(c) && c is not '.' and not '_' and not '@' and not '-')
            {
                return "username may hold only lower-case letters, digits and . _ @ -";
            }
        }

        return null;
    }

    public async Task<Outcome<TokenResponse>> LoginAsync(string? username, string? password, string clientAddress, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(username) || password is null)
        {
            return Outcome<TokenResponse>.Fail(IdentityStatus.Invalid, "username and password are required");
        }

        var name = username.Length <= 64 ? username.ToLowerInvariant() : username[..64];
        var user = CheckUsername(name) is null ? await store.FindUserByNameAsync(name, cancellationToken) : null;
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

    public async Task<Outcome<UserResponse>> CreateUserAsync(CreateUserRequest request, CancellationToken cancellationToken)
    {
        var error = CheckUsername(request.Username) ?? PasswordHasher.Check(request.Password);
        if (error is not null)
        {
            return Outcome<UserResponse>.Fail(IdentityStatus.Invalid, error);
        }

        if (request.Role is null || !Roles.TryParse(request.Role.AsSpan(), out var role))
        {
            return Outcome<UserResponse>.Fail(IdentityStatus.Invalid, $"role must be one of {Roles.Accepted}");
        }

        var hash = await passwords.HashAsync(request.Password!);
        var user = await store.CreateUserAsync(request.Username!, hash, role.Name(), time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        if (user is null)
        {
            return Outcome<UserResponse>.Fail(IdentityStatus.Conflict, $"a user named '{request.Username}' already exists");
        }

        Log.UserCreated(logger, user.Id, role.Name());
        return Outcome<UserResponse>.Ok(ToResponse(user));
    }

    public async Task<Outcome<UserResponse>> GetUserAsync(long id, CancellationToken cancellationToken)
    {
        var user = await store.FindUserAsync(id, cancellationToken);
        return user is null ? Outcome<UserResponse>.Fail(IdentityStatus.NotFound, $"no user with id {id}") : Outcome<UserResponse>.Ok(ToResponse(user));
    }

    public async Task<UserListResponse> ListUsersAsync(CancellationToken cancellationToken)
    {
        var users = await store.ListUsersAsync(cancellationToken);
        return new UserListResponse { Users = users.ConvertAll(ToResponse) };
    }

    /// <summary>
    /// Changes role, password or disabled flag. Any of these ends the user's sessions: tokens
    /// carry the role, so a demoted user must not keep the old one for up to a token lifetime.
    /// </summary>
    public async Task<Outcome<UserResponse>> UpdateUserAsync(long id, UpdateUserRequest request, CancellationToken cancellationToken)
    {
        if (request.Role is null && request.Password is null && request.Disabled is null)
        {
            return Outcome<UserResponse>.Fail(IdentityStatus.Invalid, "nothing to change: give role, password or disabled");
        }

        var role = Role.None;
        if (request.Role is not null && !Roles.TryParse(request.Role.AsSpan(), out role))
        {
            return Outcome<UserResponse>.Fail(IdentityStatus.Invalid, $"role must be one of {Roles.Accepted}");
        }

        if (request.Password is not null && PasswordHasher.Check(request.Password) is { } passwordError)
        {
            return Outcome<UserResponse>.Fail(IdentityStatus.Invalid, passwordError);
        }

        var hash = request.Password is null ? null : await passwords.HashAsync(request.Password);

        // The check that an admin is left and the change are one transaction (the store's), so
        // admins demoting or deleting each other at once can never leave none.
        var endSessions = role != Role.None || request.Password is not null || request.Disabled == true;
        var result = await store.UpdateUserAsync(
            id, role == Role.None ? null : role.Name(), request.Disabled, hash, time.GetUtcNow().ToUnixTimeMilliseconds(), endSessions, cancellationToken);
        switch (result.Outcome)
        {
            case UserChange.NotFound:
                return Outcome<UserResponse>.Fail(IdentityStatus.NotFound, $"no user with id {id}");
            case UserChange.LastAdmin:
                return Outcome<UserResponse>.Fail(IdentityStatus.Conflict, "the last active admin cannot be demoted or disabled");
        }

        if (result.Generation is { } generation)
        {
            await revocations.UserGenerationRaisedAsync(id, generation);
        }

        var updated = await GetUserAsync(id, cancellationToken);
        if (updated.Value is { } user)
        {
            Log.UserUpdated(logger, id, user.Role, user.Disabled);
        }

        return updated;
    }

    public async Task<Outcome<string>> DeleteUserAsync(long id, CancellationToken cancellationToken)
    {
        var result = await store.DeleteUserAsync(id, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        switch (result.Outcome)
        {
            case UserChange.NotFound:
                return Outcome<string>.Fail(IdentityStatus.NotFound, $"no user with id {id}");
            case UserChange.LastAdmin:
                return Outcome<string>.Fail(IdentityStatus.Conflict, "the last active admin cannot be deleted");
        }

        await revocations.UserGenerationRaisedAsync(id, result.Generation!.Value);
        Log.UserDeleted(logger, id);
        return Outcome<string>.Ok("deleted");
    }

    public async Task<Outcome<UserResponse>> MeAsync(Caller caller, CancellationToken cancellationToken)
    {
        if (caller.Kind != CallerKind.User)
        {
            return Outcome<UserResponse>.Fail(IdentityStatus.Invalid, "this credential is an API key, not a user");
        }

        return await GetUserAsync(caller.Id, cancellationToken);
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

    public async Task<Outcome<KeyResponse>> CreateKeyAsync(Caller creator, CreateKeyRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(request.Name) || request.Name.Length > 100)
        {
            return Outcome<KeyResponse>.Fail(IdentityStatus.Invalid, "name is required (at most 100 characters)");
        }

        if (request.Role is null || !Roles.TryParse(request.Role.AsSpan(), out var role))
        {
            return Outcome<KeyResponse>.Fail(IdentityStatus.Invalid, $"role must be one of {Roles.Accepted}");
        }

        if (request.RateLimit is { } limit && new RateRule(limit.PerSecond, limit.Burst).Validate("rate_limit") is { } limitError)
        {
            return Outcome<KeyResponse>.Fail(IdentityStatus.Invalid, limitError);
        }

        var (secret, hash) = Authenticator.NewKeySecret();
        var record = await store.CreateApiKeyAsync(
            new ApiKeyRecord
            {
                Name = request.Name,
                SecretHash = hash,
                Role = role.Name(),
                RatePerSecond = request.RateLimit?.PerSecond,
                RateBurst = request.RateLimit?.Burst,
                CreatedBy = creator.Kind == CallerKind.User ? creator.Id : null,
                CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
            },
            cancellationToken);
        Log.KeyCreated(logger, record.Id, role.Name());
        return Outcome<KeyResponse>.Ok(ToResponse(record, Authenticator.FormatKey(record.Id, secret)));
    }

    public async Task<KeyListResponse> ListKeysAsync(CancellationToken cancellationToken)
    {
        var keys = await store.ListApiKeysAsync(cancellationToken);
        return new KeyListResponse { Keys = keys.ConvertAll(static k => ToResponse(k, null)) };
    }

    public async Task<Outcome<string>> RevokeKeyAsync(long id, CancellationToken cancellationToken)
    {
        if (!await revocations.RevokeKeyAsync(id, cancellationToken))
        {
            return Outcome<string>.Fail(IdentityStatus.NotFound, $"no live API key with id {id}");
        }

        Log.KeyRevoked(logger, id);
        return Outcome<string>.Ok("revoked");
    }

    /// <summary>
    /// First start: creates the user <c>admin</c> from <c>Auth:BootstrapAdminPassword</c> when
    /// the store has no users. Without the setting, says how to give it.
    /// </summary>
    public async Task BootstrapAsync(string? password, CancellationToken cancellationToken)
    {
        if (await store.CountUsersAsync(cancellationToken) > 0)
        {
            if (!string.IsNullOrEmpty(password))
            {
                Log.BootstrapIgnored(logger);
            }

            return;
        }

        if (string.IsNullOrEmpty(password))
        {
            Log.BootstrapMissing(logger);
            return;
        }

        if (PasswordHasher.Check(password) is { } error)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(
                "Auth:BootstrapAdminPassword", typeof(AuthOptions), [$"Auth:BootstrapAdminPassword: {error}"]);
        }

        var hash = await passwords.HashAsync(password);
        var user = await store.CreateUserAsync("admin", hash, Role.Admin.Name(), time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken);
        if (user is not null)
        {
            Log.BootstrapCreated(logger);
        }
    }

    private static UserResponse ToResponse(UserRecord user) => new()
    {
        Id = user.Id,
        Username = user.Username,
        Role = user.Role,
        Disabled = user.Disabled,
        CreatedAt = Iso(user.CreatedAt),
        UpdatedAt = Iso(user.UpdatedAt),
    };

    private static KeyResponse ToResponse(ApiKeyRecord key, string? text) => new()
    {
        Id = key.Id,
        Name = key.Name,
        Role = key.Role,
        RateLimit = key.RatePerSecond is { } rate && key.RateBurst is { } burst ? new RateLimitSetting { PerSecond = rate, Burst = burst } : null,
        CreatedAt = Iso(key.CreatedAt),
        Revoked = key.RevokedAt is not null,
        Key = text,
    };

    private static string Iso(long unixMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(unixMs).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string NewId(int bytes) => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(bytes));

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

        [LoggerMessage(504, LogLevel.Information, "User {UserId} created with role {Role}")]
        public static partial void UserCreated(ILogger logger, long userId, string role);

        [LoggerMessage(505, LogLevel.Information, "User {UserId} updated: role {Role}, disabled {Disabled}")]
        public static partial void UserUpdated(ILogger logger, long userId, string role, bool disabled);

        [LoggerMessage(506, LogLevel.Information, "User {UserId} deleted; its sessions are revoked")]
        public static partial void UserDeleted(ILogger logger, long userId);

        [LoggerMessage(507, LogLevel.Information, "User {UserId} changed their password; their sessions are revoked")]
        public static partial void PasswordChanged(ILogger logger, long userId);

        [LoggerMessage(508, LogLevel.Information, "API key {KeyId} created with role {Role}")]
        public static partial void KeyCreated(ILogger logger, long keyId, string role);

        [LoggerMessage(509, LogLevel.Information, "API key {KeyId} revoked")]
        public static partial void KeyRevoked(ILogger logger, long keyId);

        [LoggerMessage(510, LogLevel.Information, "Created the first admin, user 'admin', from Auth:BootstrapAdminPassword")]
        public static partial void BootstrapCreated(ILogger logger);

        [LoggerMessage(511, LogLevel.Warning,
            "No users exist yet and Auth:BootstrapAdminPassword is not set, so nobody can log in. Set it for the first start, for example: " +
            "Auth__BootstrapAdminPassword='a long passphrase' ./build.sh run (or --Auth:BootstrapAdminPassword, or a file /run/secrets/Auth__BootstrapAdminPassword); " +
            "then log in as 'admin' with POST /v1/auth/login")]
        public static partial void BootstrapMissing(ILogger logger);

        [LoggerMessage(512, LogLevel.Information, "Auth:BootstrapAdminPassword is set but users already exist; it is ignored")]
        public static partial void BootstrapIgnored(ILogger logger);

        [LoggerMessage(513, LogLevel.Warning, "User {UserId} gave a wrong current password to change it, from {Address}")]
        public static partial void PasswordChangeFailed(ILogger logger, long userId, string address);
    }
}
