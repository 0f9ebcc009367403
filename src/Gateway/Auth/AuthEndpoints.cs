using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gateway.Documentation;
using Gateway.Protocol;

namespace Gateway.Auth;

/// <summary>
/// <c>/v1/auth/*</c>, <c>/v1/users*</c> and <c>/v1/keys*</c>, each with its declaration
/// (<see cref="EndpointSpec"/>: access, matrix line, operation).
/// </summary>
internal static class AuthEndpoints
{
    /// <summary>The role names, lowest first, as the user operations describe them.</summary>
    private static readonly string RoleNames = string.Join(", ", Array.ConvertAll(Roles.Table, static row => row.Name));

    public static void MapAuth(this IEndpointRouteBuilder app)
    {
        var sessions = app.ServiceProvider.GetRequiredService<SessionService>();
        var users = app.ServiceProvider.GetRequiredService<UserService>();
        var keys = app.ServiceProvider.GetRequiredService<ApiKeyService>();
        var maxBody = app.ServiceProvider.GetRequiredService<AuthOptions>().MaxBodyBytes;
        var json = AuthJsonContext.Default;

        app.MapPost("/v1/auth/login", Guard(async context =>
        {
            var (request, status, error) = await ReadAsync(context, json.LoginRequest, maxBody);
            if (request is null)
            {
                await HttpErrors.WriteAsync(context, status, error!);
                return;
            }

            var outcome = await sessions.LoginAsync(request.Username, request.Password, ClientAddress(context), context.RequestAborted);
            await WriteAsync(context, outcome, json.TokenResponse);
        })).Declare(
            EndpointAccess.Open,
            "log in: access and refresh token",
            new("login", "auth", "Log in", "Answers an access token (a JWT, Auth:AccessTokenMinutes) and a refresh token (Auth:RefreshTokenDays). A wrong name or password answers the same message in the same time.",
                Replies.JsonBody<LoginRequest>("Username and password."),
                Reply.Json<TokenResponse>(200, "Tokens."), Replies.BadBody("a missing username or password"), Reply.Error(401, "Wrong username or password."),
                Reply.Error(403, "The account is disabled."), Replies.TooLarge("Auth:MaxBodyBytes (16 KiB)"), Reply.Error(429, "Too many failed attempts for the account or from the address (failures are limited, not attempts; docs/AUTH.md).", Replies.RetryAfterHeader), Replies.StoreDown));

        app.MapPost("/v1/auth/refresh", Guard(async context =>
        {
            var (request, status, error) = await ReadAsync(context, json.RefreshRequest, maxBody);
            if (request is null)
            {
                await HttpErrors.WriteAsync(context, status, error!);
                return;
            }

            await WriteAsync(context, await sessions.RefreshAsync(request.RefreshToken, context.RequestAborted), json.TokenResponse);
        })).Declare(
            EndpointAccess.Open,
            "rotate a refresh token (the token is the credential)",
            new("refresh", "auth", "Refresh tokens", "Spends the refresh token (the token is the credential) and answers a new pair, never past the session's absolute lifetime (Auth:SessionDays). A spent token presented again revokes its whole session.",
                Replies.JsonBody<RefreshRequest>("The refresh token."),
                Reply.Json<TokenResponse>(200, "New tokens."), Replies.BadBody("a missing refresh_token"), Reply.Error(401, "Unknown, expired, revoked or reused refresh token."), Replies.TooLarge("Auth:MaxBodyBytes (16 KiB)"), Replies.StoreDown));

        app.MapPost("/v1/auth/logout", Guard(async context =>
        {
            var (request, status, error) = await ReadAsync(context, json.LogoutRequest, maxBody, optional: true);
            if (error is not null)
            {
                await HttpErrors.WriteAsync(context, status, error);
                return;
            }

            await WriteNoContentAsync(context, await sessions.LogoutAsync(context.GetCaller()!, request?.RefreshToken, context.RequestAborted));
        })).Declare(
            Permission.OwnAccount,
            "end the session of the access token",
            new("logout", "auth", "Log out", "Revokes the access token and its session's refresh tokens, on every replica.",
                Replies.JsonBody<LogoutRequest>("Optional; a refresh token of the same session to revoke too.", required: false),
                Reply.Empty(204, "Logged out."), Replies.BadBody("an API key instead of an access token"), Replies.TooLarge("Auth:MaxBodyBytes (16 KiB)"), Replies.StoreDown));

        app.MapGet("/v1/users/me", Guard(async context =>
            await WriteAsync(context, await users.MeAsync(context.GetCaller()!, context.RequestAborted), json.UserResponse)))
            .Declare(
            Permission.OwnAccount,
            "the caller's own account",
            new("me", "users", "The caller's account", "The user behind the access token.",
                Reply.Json<UserResponse>(200, "The account."), Reply.Error(400, "The credential is an API key, not a user."), Reply.Error(404, "The user no longer exists."), Replies.StoreDown));

        app.MapPost("/v1/users/me/password", Guard(async context =>
        {
            var (request, status, error) = await ReadAsync(context, json.ChangePasswordRequest, maxBody);
            if (request is null)
            {
                await HttpErrors.WriteAsync(context, status, error!);
                return;
            }

            var outcome = await sessions.ChangePasswordAsync(context.GetCaller()!, request, ClientAddress(context), context.RequestAborted);
            await WriteNoContentAsync(context, outcome);
        })).Declare(
            Permission.OwnAccount,
            "change the caller's own password",
            new("changePassword", "users", "Change the caller's password", "Every session of the user ends.",
                Replies.JsonBody<ChangePasswordRequest>("The current and the new password (8 to 72 bytes of UTF-8)."),
                Reply.Empty(204, "Changed."), Replies.BadBody("a new password that is too short or too long, or an API key"), Reply.Error(403, "current_password is wrong."), Replies.TooLarge("Auth:MaxBodyBytes (16 KiB)"),
                Reply.Error(429, "Too many failed attempts for the account or from the address, as for logins.", Replies.RetryAfterHeader), Replies.StoreDown));

        app.MapGet("/v1/users", Guard(async context =>
            await WriteAsync(context, Outcome<UserListResponse>.Ok(await users.ListUsersAsync(context.RequestAborted)), json.UserListResponse)))
            .Declare(
            Permission.ManageUsers,
            "list users",
            new("listUsers", "users", "List users", "Every user, never a password hash.", Reply.Json<UserListResponse>(200, "The users."), Replies.StoreDown));

        app.MapPost("/v1/users", Guard(async context =>
        {
            var (request, status, error) = await ReadAsync(context, json.CreateUserRequest, maxBody);
            if (request is null)
            {
                await HttpErrors.WriteAsync(context, status, error!);
                return;
            }

            var outcome = await users.CreateUserAsync(request, context.RequestAborted);
            await WriteAsync(context, outcome, json.UserResponse, StatusCodes.Status201Created);
        })).Declare(
            Permission.ManageUsers,
            "create a user",
            new("createUser", "users", "Create a user", "Roles: " + RoleNames + ".",
                Replies.JsonBody<CreateUserRequest>("Username, password and role."),
                Reply.Json<UserResponse>(201, "Created."), Replies.BadBody("a bad username, password or role"), Reply.Error(409, "A user of that name exists."), Replies.TooLarge("Auth:MaxBodyBytes (16 KiB)"), Replies.StoreDown));

        app.MapGet("/v1/users/{id}", Guard(async context =>
        {
            if (!TryId(context, "user", out var id, out var problem))
            {
                await HttpErrors.WriteAsync(context, StatusCodes.Status400BadRequest, problem);
                return;
            }

            await WriteAsync(context, await users.GetUserAsync(id, context.RequestAborted), json.UserResponse);
        })).Declare(
            Permission.ManageUsers,
            "read a user",
            new("getUser", "users", "Read a user", "One user.", Reply.Json<UserResponse>(200, "The user."), Replies.BadId, Reply.Error(404, "No user with that id."), Replies.StoreDown));

        app.MapMethods("/v1/users/{id}", [HttpMethods.Patch], Guard(async context =>
        {
            if (!TryId(context, "user", out var id, out var problem))
            {
                await HttpErrors.WriteAsync(context, StatusCodes.Status400BadRequest, problem);
                return;
            }

            var (request, status, error) = await ReadAsync(context, json.UpdateUserRequest, maxBody);
            if (request is null)
            {
                await HttpErrors.WriteAsync(context, status, error!);
                return;
            }

            await WriteAsync(context, await users.UpdateUserAsync(id, request, context.RequestAborted), json.UserResponse);
        })).Declare(
            Permission.ManageUsers,
            "change a user's role, password or disabled flag",
            new("updateUser", "users", "Change a user", "Any of role, password and disabled; any change ends the user's sessions.",
                Replies.JsonBody<UpdateUserRequest>("The fields to change."),
                Reply.Json<UserResponse>(200, "The changed user."), Replies.BadBody("nothing to change, or a bad role or password"), Reply.Error(404, "No user with that id."),
                Reply.Error(409, "The last active admin cannot be demoted or disabled."), Replies.TooLarge("Auth:MaxBodyBytes (16 KiB)"), Replies.StoreDown));

        app.MapDelete("/v1/users/{id}", Guard(async context =>
        {
            if (!TryId(context, "user", out var id, out var problem))
            {
                await HttpErrors.WriteAsync(context, StatusCodes.Status400BadRequest, problem);
                return;
            }

            await WriteNoContentAsync(context, await users.DeleteUserAsync(id, context.RequestAborted));
        })).Declare(
            Permission.ManageUsers,
            "delete a user (revokes its sessions)",
            new("deleteUser", "users", "Delete a user", "Its sessions end and its name is free again.",
                Reply.Empty(204, "Deleted."), Replies.BadId, Reply.Error(404, "No user with that id."), Reply.Error(409, "The last active admin cannot be deleted."), Replies.StoreDown));

        app.MapGet("/v1/keys", Guard(async context =>
            await WriteAsync(context, Outcome<KeyListResponse>.Ok(await keys.ListKeysAsync(context.RequestAborted)), json.KeyListResponse)))
            .Declare(
            Permission.ManageKeys,
            "list API keys",
            new("listKeys", "keys", "List API keys", "Every key without its secret.", Reply.Json<KeyListResponse>(200, "The keys."), Replies.StoreDown));

        app.MapPost("/v1/keys", Guard(async context =>
        {
            var (request, status, error) = await ReadAsync(context, json.CreateKeyRequest, maxBody);
            if (request is null)
            {
                await HttpErrors.WriteAsync(context, status, error!);
                return;
            }

            var outcome = await keys.CreateKeyAsync(context.GetCaller()!, request, context.RequestAborted);
            await WriteAsync(context, outcome, json.KeyResponse, StatusCodes.Status201Created);
        })).Declare(
            Permission.ManageKeys,
            "create an API key (shown once)",
            new("createKey", "keys", "Create an API key", "The answer's key field is the only time the key is shown; it is stored as a hash.",
                Replies.JsonBody<CreateKeyRequest>("Name, role and an optional rate limit."),
                Reply.Json<KeyResponse>(201, "Created, with the key."), Replies.BadBody("a missing name, a bad role or rate limit"), Replies.TooLarge("Auth:MaxBodyBytes (16 KiB)"), Replies.StoreDown));

        app.MapDelete("/v1/keys/{id}", Guard(async context =>
        {
            if (!TryId(context, "key", out var id, out var problem))
            {
                await HttpErrors.WriteAsync(context, StatusCodes.Status400BadRequest, problem);
                return;
            }

            await WriteNoContentAsync(context, await keys.RevokeKeyAsync(id, context.RequestAborted));
        })).Declare(
            Permission.ManageKeys,
            "revoke an API key",
            new("revokeKey", "keys", "Revoke an API key", "The key stops working on every replica.",
                Reply.Empty(204, "Revoked."), Replies.BadId, Reply.Error(404, "No live key with that id."), Replies.StoreDown));
    }

    /// <summary>
    /// The identity store being unreachable is a 503 with <c>Retry-After</c>, never a 500: the
    /// client may retry, and issued tokens keep serving meanwhile (docs/RUNBOOK.md, "Dependencies").
    /// </summary>
    private static RequestDelegate Guard(RequestDelegate handler) => async context =>
    {
        try
        {
            await handler(context);
        }
        catch (Storage.StoreUnavailableException ex)
        {
            context.Response.Headers.RetryAfter = StoreRetryAfterSeconds;
            await HttpErrors.WriteAsync(context, StatusCodes.Status503ServiceUnavailable, ex.Message);
        }
    };

    /// <summary>What a 503 for an unreachable store tells the client to wait (the store is probed every second while down).</summary>
    internal const string StoreRetryAfterSeconds = "2";

    /// <summary>The client's address (behind a proxy, what the forwarded-headers setting makes of it: docs/RUNBOOK.md, "Scaling").</summary>
    private static string ClientAddress(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    private static bool TryId(HttpContext context, string what, out long id, out string problem)
    {
        var text = context.Request.RouteValues["id"] as string;
        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out id) && id > 0)
        {
            problem = string.Empty;
            return true;
        }

        problem = $"{what} id must be a positive integer (got '{Truncate(text)}')";
        return false;
    }

    private static string Truncate(string? text) => text is null ? string.Empty : text.Length <= 40 ? text : text[..40] + "…";

    /// <summary>
    /// Reads a small JSON body: at most <paramref name="maxBytes"/> (413 beyond), a JSON object of
    /// the expected shape with no unknown fields (400 otherwise, saying where).
    /// </summary>
    internal static async Task<(T? Value, int Status, string? Error)> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> type, int maxBytes, bool optional = false)
        where T : class
    {
        var request = context.Request;
        if (request.ContentLength > maxBytes)
        {
            return (null, StatusCodes.Status413PayloadTooLarge, $"request body of {request.ContentLength} bytes exceeds the limit of {maxBytes} bytes");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, 4096));
        var filled = 0;
        try
        {
            while (true)
            {
                if (filled == buffer.Length)
                {
                    if (filled > maxBytes)
                    {
                        return (null, StatusCodes.Status413PayloadTooLarge, $"request body exceeds the limit of {maxBytes} bytes");
                    }

                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(maxBytes + 1, buffer.Length * 2));
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(filled, Math.Min(buffer.Length, maxBytes + 1) - filled), context.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                filled += read;
                if (filled > maxBytes)
                {
                    return (null, StatusCodes.Status413PayloadTooLarge, $"request body exceeds the limit of {maxBytes} bytes");
                }
            }

            if (filled == 0 || buffer.AsSpan(0, filled).Trim(" \t\r\n"u8).IsEmpty)
            {
                return optional ? (null, StatusCodes.Status200OK, null) : (null, StatusCodes.Status400BadRequest, "the request body is empty; send a JSON object");
            }

            try
            {
                var value = JsonSerializer.Deserialize(buffer.AsSpan(0, filled), type);
                return value is null
                    ? (null, StatusCodes.Status400BadRequest, "the request body must be a JSON object")
                    : (value, StatusCodes.Status200OK, null);
            }
            catch (JsonException ex)
            {
                return (null, StatusCodes.Status400BadRequest, ex.Path is { Length: > 1 } path
                    ? $"invalid JSON body at {path}: {FirstSentence(ex.Message)}"
                    : $"malformed JSON body: {FirstSentence(ex.Message)}");
            }
        }
        catch (BadHttpRequestException ex)
        {
            return (null, ex.StatusCode, ex.Message);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end > 0 ? message[..(end + 1)] : message;
    }

    private static async Task WriteAsync<T>(HttpContext context, Outcome<T> outcome, JsonTypeInfo<T> type, int success = StatusCodes.Status200OK)
        where T : class
    {
        if (outcome.Value is null)
        {
            if (outcome.RetryAfterSeconds > 0)
            {
                context.Response.Headers.RetryAfter = outcome.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            }

            await HttpErrors.WriteAsync(context, StatusCode(outcome.Status), outcome.Error ?? "request failed");
            return;
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(outcome.Value, type);
        var response = context.Response;
        response.StatusCode = success;
        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        response.Headers.CacheControl = "no-store";
        await response.Body.WriteAsync(body, context.RequestAborted);
    }

    private static Task WriteNoContentAsync(HttpContext context, Outcome<string> outcome)
    {
        if (outcome.Value is null)
        {
            if (outcome.RetryAfterSeconds > 0)
            {
                context.Response.Headers.RetryAfter = outcome.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
            }

            return HttpErrors.WriteAsync(context, StatusCode(outcome.Status), outcome.Error ?? "request failed");
        }

        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    /// <summary>The HTTP status for an identity outcome: the one place that knows both.</summary>
    internal static int StatusCode(IdentityStatus status) => status switch
    {
        IdentityStatus.Ok => StatusCodes.Status200OK,
        IdentityStatus.Invalid => StatusCodes.Status400BadRequest,
        IdentityStatus.InvalidCredentials => StatusCodes.Status401Unauthorized,
        IdentityStatus.Forbidden => StatusCodes.Status403Forbidden,
        IdentityStatus.NotFound => StatusCodes.Status404NotFound,
        IdentityStatus.Conflict => StatusCodes.Status409Conflict,
        IdentityStatus.LockedOut => StatusCodes.Status429TooManyRequests,
        _ => StatusCodes.Status500InternalServerError,
    };
}
