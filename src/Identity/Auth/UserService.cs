using Gateway.Storage;

namespace Gateway.Auth;

/// <summary>Users: create, read, list, change (role, password, disabled: each ends the user's sessions) and delete.</summary>
internal sealed partial class UserService(
    IAuthStore store,
    PasswordHasher passwords,
    RevocationService revocations,
    TimeProvider time,
    ILogger<UserService> logger)
{
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

    private static UserResponse ToResponse(UserRecord user) => new()
    {
        Id = user.Id,
        Username = user.Username,
        Role = user.Role,
        Disabled = user.Disabled,
        CreatedAt = IdentityText.Iso(user.CreatedAt),
        UpdatedAt = IdentityText.Iso(user.UpdatedAt),
    };


    private static partial class Log
    {
        [LoggerMessage(504, LogLevel.Information, "User {UserId} created with role {Role}")]
        public static partial void UserCreated(ILogger logger, long userId, string role);

        [LoggerMessage(505, LogLevel.Information, "User {UserId} updated: role {Role}, disabled {Disabled}")]
        public static partial void UserUpdated(ILogger logger, long userId, string role, bool disabled);

        [LoggerMessage(506, LogLevel.Information, "User {UserId} deleted; its sessions are revoked")]
        public static partial void UserDeleted(ILogger logger, long userId);
    }
}
