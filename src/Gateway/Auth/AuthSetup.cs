using Gateway.Hosting;
using Gateway.RateLimiting;
using Gateway.Redis;
using Gateway.Secrets;
using Gateway.Storage;
using Microsoft.Extensions.Options;

namespace Gateway.Auth;

/// <summary>Registers identity and access (store, secrets, Redis, tokens, rate limits) and puts the middleware in the pipeline.</summary>
internal static class AuthSetup
{
    /// <summary>Binds and validates every auth-related section, failing fast with the key at fault.</summary>
    public static void AddGatewayAuth(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        // One call per type: the configuration binding generator only sees non-generic calls.
        var auth = Bind(AuthOptions.SectionName, () => configuration.GetSection(AuthOptions.SectionName).Get<AuthOptions>()) ?? new AuthOptions();
        var storage = Bind(StorageOptions.SectionName, () => configuration.GetSection(StorageOptions.SectionName).Get<StorageOptions>()) ?? new StorageOptions();
        var redisOptions = Bind(RedisOptions.SectionName, () => configuration.GetSection(RedisOptions.SectionName).Get<RedisOptions>()) ?? new RedisOptions();
        var limits = Bind(RateLimitOptions.SectionName, () => configuration.GetSection(RateLimitOptions.SectionName).Get<RateLimitOptions>()) ?? new RateLimitOptions();
        var secretsOptions = Bind(SecretsOptions.SectionName, () => configuration.GetSection(SecretsOptions.SectionName).Get<SecretsOptions>()) ?? new SecretsOptions();
        Check(AuthOptions.SectionName, auth.Validate());
        Check(StorageOptions.SectionName, storage.Validate());
        Check(RedisOptions.SectionName, redisOptions.Validate());
        Check(RateLimitOptions.SectionName, limits.Validate());
        Check(SecretsOptions.SectionName, secretsOptions.Validate());

        var services = builder.Services;
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
        services.AddSingleton(provider => new Authenticator(
            provider.GetRequiredService<JwtCodec>(),
            provider.GetRequiredService<RevocationList>(),
            provider.GetRequiredService<RevocationService>(),
            provider.GetRequiredService<IAuthStore>(),
            provider.GetRequiredService<TimeProvider>(),
            auth));
        services.AddSingleton<AuthService>();
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
    }

    /// <summary>Routing first (so the endpoint and its access rule are known), then the auth middleware.</summary>
    public static void UseGatewayAuth(this WebApplication app)
    {
        app.UseRouting();
        app.UseMiddleware<AuthMiddleware>();
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

    private static void Check(string section, string? problem)
    {
        if (problem is not null)
        {
            throw new OptionsValidationException(section, typeof(object), [problem]);
        }
    }

    private static SecretChain CreateSecrets(IServiceProvider provider, ConfigurationManager configuration, SecretsOptions options)
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
