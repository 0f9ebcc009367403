using Gateway.Hosting;
using Gateway.RateLimiting;
using Gateway.Redis;
using Gateway.Secrets;
using Gateway.Storage;
using Microsoft.Extensions.Options;

namespace Gateway.Auth;

/// <summary>Registers identity and access (store, secrets, Redis, tokens, rate limits): the assembly's one entry point.</summary>
internal static class IdentitySetup
{
    /// <summary>Binds and validates every identity-related section, failing fast with the key at fault.</summary>
    public static IServiceCollection AddGatewayIdentity(this IServiceCollection services, IConfiguration configuration)
    {
        // One call per type: the configuration binding generator only sees non-generic calls.
        var auth = Bind(AuthOptions.SectionName, () => configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>()) ?? new AuthOptions();
        var storage = Bind(StorageOptions.SectionName, () => configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>()) ?? new StorageOptions();
        var redisOptions = Bind(RedisOptions.SectionName, () => configuration.GetSection(RedisOptions.SectionName).Get<RedisOptions>()) ?? new RedisOptions();
        var limits = Bind(RateLimitOptions.SectionName, () => configuration.GetSection(RateLimitOptions.SectionName).Get<RateLimitOptions>()) ?? new RateLimitOptions();
        Bind(RateLimitOptions.SectionName, () =>
        {
            limits.BindRoles(configuration.GetSection(RateLimitOptions.SectionName));
            return limits;
        });
        var secretsOptions = Bind(SecretsOptions.SectionName, () => configuration.GetSection(SecretsOptions.SectionName).Get<SecretsOptions>()) ?? new SecretsOptions();
        Check(AuthOptions.SectionName, auth.Validate());
        Check(StorageOptions.SectionName, storage.Validate());
        Check(RedisOptions.SectionName, redisOptions.Validate());
        Check(RateLimitOptions.SectionName, limits.Validate() ?? RetiredLoginSettings(configuration));
        Check(SecretsOptions.SectionName, secretsOptions.Validate());

        services.AddSingleton(auth);
        services.AddSingleton(storage);
        services.AddSingleton(redisOptions);
        services.AddSingleton(limits);
        services.AddSingleton(secretsOptions);
        services.AddSingleton(secretsOptions.Aws);
        services.AddSingleton(TimeProvider.System);

        services.AddSingleton(provider => CreateSecrets(provider, configuration, secretsOptions));
        services.AddSingleton<IAuthStore>(provider => CreateStore(provider, storage));
        services.AddSingleton<RedisConnection>();
        services.AddSingleton(new SigningKeyRing([SigningKeyRing.Ephemeral()]));
        services.AddSingleton(provider => new JwtCodec(provider.GetRequiredService<SigningKeyRing>(), auth.Issuer, auth.Audience, auth.ClockSkewSeconds));
        services.AddSingleton(new PasswordHasher(auth.BcryptWorkFactor));
        services.AddSingleton<RevocationList>();
        services.AddSingleton<RevocationService>();
        services.AddSingleton<RateLimiter>();
        services.AddSingleton<FailureLimiter>();
        services.AddSingleton(provider => new Authenticator(
            provider.GetRequiredService<JwtCodec>(),
            provider.GetRequiredService<RevocationList>(),
            provider.GetRequiredService<RevocationService>(),
            provider.GetRequiredService<IAuthStore>(),
            provider.GetRequiredService<TimeProvider>(),
            auth,
            provider.GetRequiredService<RateLimiter>(),
            limits));
        services.AddSingleton<SessionService>();
        services.AddSingleton<UserService>();
        services.AddSingleton<ApiKeyService>();
        services.AddSingleton<BootstrapService>();
        services.AddSingleton<AuthStartup>();

        // Order matters: the store is migrated and Redis connected before the deny set loads.
        services.AddHostedService(static provider => provider.GetRequiredService<AuthStartup>());
        services.AddHostedService(static provider => provider.GetRequiredService<RevocationService>());
        services.AddHostedService<AuthMaintenance>();
        services.AddSingleton<StoreHealthMonitor>();
        services.AddHostedService(static provider => provider.GetRequiredService<StoreHealthMonitor>());
        services.AddSingleton<IReadinessCheck>(static provider => provider.GetRequiredService<AuthStartup>());
        services.AddSingleton<IReadinessCheck>(static provider => provider.GetRequiredService<RevocationService>());
        services.AddSingleton<IReadinessCheck>(static provider => provider.GetRequiredService<StoreHealthMonitor>());
        return services;
    }

    private static T? Bind<T>(string section, Func<T?> bind)
        where T : class
    {
        try
        {
            return bind();
        }
        catch (InvalidOperationException ex)
        {
            // A value that does not convert (Auth:AccessTokenMinutes=abc) names its key in the message.
            throw new OptionsValidationException(section, typeof(T), [$"{section}: {ex.Message}"]);
        }
    }

    /// <summary>
    /// The login limits were token buckets (<c>PerSecond</c>, <c>Burst</c>) charged on every
    /// attempt; they now count failures. An old setting must not be ignored silently.
    /// </summary>
    private static string? RetiredLoginSettings(IConfiguration configuration)
    {
        foreach (var limit in (string[])["LoginPerAccount", "LoginPerAddress"])
        {
            foreach (var retired in (string[])["PerSecond", "Burst"])
            {
                var key = $"{RateLimitOptions.SectionName}:{limit}:{retired}";
                if (configuration[key] is not null)
                {
                    return $"{key} no longer exists: logins and password changes are limited by failures, set " +
                        $"{RateLimitOptions.SectionName}:{limit}:Failures, :BackoffSeconds, :MaxBackoffSeconds and :ResetAfterSeconds (docs/AUTH.md)";
                }
            }
        }

        return null;
    }

    private static void Check(string section, string? problem)
    {
        if (problem is not null)
        {
            throw new OptionsValidationException(section, typeof(object), [problem]);
        }
    }

    private static SecretChain CreateSecrets(IServiceProvider provider, IConfiguration configuration, SecretsOptions options)
    {
        var sources = new List<ISecretSource> { new ConfigurationSecretSource(configuration), new FileSecretSource(options.Directory) };
        if (options.Aws.Enabled)
        {
            var accessKey = configuration["AWS_ACCESS_KEY_ID"];
            var secretKey = configuration["AWS_SECRET_ACCESS_KEY"];
            if (string.IsNullOrEmpty(accessKey) || string.IsNullOrEmpty(secretKey))
            {
                throw new OptionsValidationException(
                    SecretsOptions.SectionName, typeof(SecretsOptions), ["Secrets:Aws:Region is set but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not"]);
            }

            sources.Add(new AwsSecretsManagerSource(
                new HttpClient { Timeout = TimeSpan.FromSeconds(10) },
                options.Aws,
                new AwsCredentials(accessKey, secretKey, configuration["AWS_SESSION_TOKEN"]),
                provider.GetRequiredService<TimeProvider>(),
                provider.GetRequiredService<ILogger<AwsSecretsManagerSource>>()));
        }

        return new SecretChain(sources);
    }

    private static IAuthStore CreateStore(IServiceProvider provider, StorageOptions options)
    {
        var time = provider.GetRequiredService<TimeProvider>();
        if (!options.UsePostgres)
        {
            return new SqliteAuthStore(options.SqlitePath, time);
        }

        var secrets = provider.GetRequiredService<SecretChain>();
        return new PostgresAuthStore(options.Postgres, secrets, time);
    }
}
