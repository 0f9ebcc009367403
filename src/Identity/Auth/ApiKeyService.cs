using Gateway.RateLimiting;
using Gateway.Storage;

namespace Gateway.Auth;

/// <summary>API keys: create (the secret is shown once), list and revoke.</summary>
internal sealed partial class ApiKeyService(
    IAuthStore store,
    RevocationService revocations,
    TimeProvider time,
    ILogger<ApiKeyService> logger)
{
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

    private static KeyResponse ToResponse(ApiKeyRecord key, string? text) => new()
    {
        Id = key.Id,
        Name = key.Name,
        Role = key.Role,
        RateLimit = key.RatePerSecond is { } rate && key.RateBurst is { } burst ? new RateLimitSetting { PerSecond = rate, Burst = burst } : null,
        CreatedAt = IdentityText.Iso(key.CreatedAt),
        Revoked = key.RevokedAt is not null,
        Key = text,
    };


    private static partial class Log
    {
        [LoggerMessage(508, LogLevel.Information, "API key {KeyId} created with role {Role}")]
        public static partial void KeyCreated(ILogger logger, long keyId, string role);

        [LoggerMessage(509, LogLevel.Information, "API key {KeyId} revoked")]
        public static partial void KeyRevoked(ILogger logger, long keyId);
    }
}
