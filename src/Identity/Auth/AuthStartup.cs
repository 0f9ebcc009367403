using Gateway.Hosting;
using Gateway.Redis;
using Gateway.Secrets;
using Gateway.Storage;

namespace Gateway.Auth;

/// <summary>
/// Runs before the server takes requests: reads the signing keys and passwords through the
/// secret chain, migrates the store (retrying while the database comes up), connects Redis and
/// creates the first admin. Hosted services start in registration order, so this one is
/// registered first.
/// </summary>
internal sealed partial class AuthStartup(
    IAuthStore store,
    SecretChain secrets,
    SigningKeyRing keys,
    RedisConnection redis,
    BootstrapService bootstrap,
    AuthOptions options,
    ILogger<AuthStartup> logger) : IHostedService, IReadinessCheck
{
    public const string SigningKeysSecret = "Auth:JwtSigningKeys";
    public const string BootstrapPasswordSecret = "Auth:BootstrapAdminPassword";
    public const string RedisPasswordSecret = "Redis:Password";
    public const string PostgresPasswordSecret = "Storage:PostgresPassword";

    private volatile bool _started;

    public string? NotReadyReason => _started ? null : "identity store not initialised yet";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Disabled)
        {
            Log.AuthDisabled(logger);
        }

        await LoadSigningKeysAsync(keys, secrets, logger, warnWhenMissing: true, cancellationToken);
        await MigrateAsync(cancellationToken);
        await redis.ConnectAsync(await secrets.GetAsync(RedisPasswordSecret, cancellationToken));
        await bootstrap.BootstrapAsync(await secrets.GetAsync(BootstrapPasswordSecret, cancellationToken), cancellationToken);
        _started = true;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        // A database that is still starting (containers started together) gets 30 seconds.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await store.MigrateAsync(cancellationToken);
                Log.StoreReady(logger, store.Kind, await store.SchemaVersionAsync(cancellationToken));
                return;
            }
            catch (Exception ex) when (attempt < 15 && ex is System.Data.Common.DbException or System.Net.Sockets.SocketException or TimeoutException)
            {
                Log.StoreRetry(logger, store.Kind, ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            }
        }
    }

    /// <summary>Reads <c>Auth:JwtSigningKeys</c> and swaps the ring when it changed; a bad value keeps the old keys.</summary>
    internal static async Task LoadSigningKeysAsync(SigningKeyRing keys, SecretChain secrets, ILogger logger, bool warnWhenMissing, CancellationToken cancellationToken)
    {
        var text = await secrets.GetAsync(SigningKeysSecret, cancellationToken);
        if (text is null)
        {
            if (warnWhenMissing)
            {
                Log.EphemeralKey(logger);
            }

            return;
        }

        if (!SigningKeyRing.TryParse(text, out var parsed, out var error))
        {
            if (warnWhenMissing)
            {
                throw new Microsoft.Extensions.Options.OptionsValidationException(SigningKeysSecret, typeof(AuthOptions), [$"{SigningKeysSecret}: {error}"]);
            }

            Log.BadKeys(logger, error);
            return;
        }

        var version = keys.Version;
        keys.Replace(parsed);
        if (keys.Version != version)
        {
            Log.KeysLoaded(logger, parsed.Count, parsed[0].Id);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(540, LogLevel.Critical,
            "AUTHENTICATION IS OFF (Auth:Mode=none): every request is served as admin without credentials. Use this for local experiments only, never on a network.")]
        public static partial void AuthDisabled(ILogger logger);

        [LoggerMessage(541, LogLevel.Warning,
            "Auth:JwtSigningKeys is not set: access tokens are signed with a random key that dies with this process (restarts log everyone out, replicas reject each other's tokens). Set it for production: 'id:base64url-of-32-random-bytes'.")]
        public static partial void EphemeralKey(ILogger logger);

        [LoggerMessage(542, LogLevel.Information, "JWT signing keys loaded: {Count} key(s), signing with '{KeyId}'")]
        public static partial void KeysLoaded(ILogger logger, int count, string keyId);

        [LoggerMessage(543, LogLevel.Error, "Auth:JwtSigningKeys changed to an unusable value ({Reason}); keeping the current keys")]
        public static partial void BadKeys(ILogger logger, string reason);

        [LoggerMessage(544, LogLevel.Information, "Identity store ready: {Kind}, schema version {Version}")]
        public static partial void StoreReady(ILogger logger, string kind, int version);

        [LoggerMessage(545, LogLevel.Warning, "Identity store ({Kind}) not reachable yet, retrying: {Reason}")]
        public static partial void StoreRetry(ILogger logger, string kind, string reason);
    }
}

/// <summary>Periodic chores: re-reads rotating secrets (signing keys) and forgets expired cached credentials.</summary>
internal sealed partial class AuthMaintenance(
    SigningKeyRing keys, SecretChain secrets, Authenticator authenticator, SecretsOptions options, TimeProvider time, ILogger<AuthMaintenance> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var every = TimeSpan.FromSeconds(options.RefreshSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, time, stoppingToken);
                await AuthStartup.LoadSigningKeysAsync(keys, secrets, logger, warnWhenMissing: false, stoppingToken);
                authenticator.PurgeExpired();
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // Never let a chore stop the host: the current keys stay and the next round tries again.
                Log.Failed(logger, ex.Message);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(546, LogLevel.Warning, "Re-reading Auth:JwtSigningKeys failed ({Reason}); the current keys stay")]
        public static partial void Failed(ILogger logger, string reason);
    }
}
