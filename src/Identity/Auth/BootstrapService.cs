using Gateway.Storage;

namespace Gateway.Auth;

/// <summary>The first admin, created at first start from <c>Auth:BootstrapAdminPassword</c>.</summary>
internal sealed partial class BootstrapService(
    IAuthStore store,
    PasswordHasher passwords,
    TimeProvider time,
    ILogger<BootstrapService> logger)
{
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

    private static partial class Log
    {
        [LoggerMessage(510, LogLevel.Information, "Created the first admin, user 'admin', from Auth:BootstrapAdminPassword")]
        public static partial void BootstrapCreated(ILogger logger);

        [LoggerMessage(511, LogLevel.Warning,
            "No users exist yet and Auth:BootstrapAdminPassword is not set, so nobody can log in. Set it for the first start, for example: " +
            "Auth__BootstrapAdminPassword='a long passphrase' ./build.sh run (or --Auth:BootstrapAdminPassword, or a file /run/secrets/Auth__BootstrapAdminPassword); " +
            "then log in as 'admin' with POST /v1/auth/login")]
        public static partial void BootstrapMissing(ILogger logger);

        [LoggerMessage(512, LogLevel.Information, "Auth:BootstrapAdminPassword is set but users already exist; it is ignored")]
        public static partial void BootstrapIgnored(ILogger logger);
    }
}
