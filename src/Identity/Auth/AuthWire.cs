using System.Text.Json.Serialization;

namespace Gateway.Auth;

/// <summary><c>POST /v1/auth/login</c>.</summary>
internal sealed class LoginRequest
{
    [JsonPropertyName("username")]
    public string? Username { get; set; }

    [JsonPropertyName("password")]
    public string? Password { get; set; }
}

/// <summary><c>POST /v1/auth/refresh</c>.</summary>
internal sealed class RefreshRequest
{
    [JsonPropertyName("refresh_token")]
    public string? RefreshToken { get; set; }
}

/// <summary><c>POST /v1/auth/logout</c> (the body is optional).</summary>
internal sealed class LogoutRequest
{
    [JsonPropertyName("refresh_token")]
    public string? RefreshToken { get; set; }
}

/// <summary>Login and refresh answer with this.</summary>
internal sealed class TokenResponse
{
    [JsonPropertyName("access_token")]
    public required string AccessToken { get; init; }

    [JsonPropertyName("refresh_token")]
    public required string RefreshToken { get; init; }

    [JsonPropertyName("token_type")]
    public string TokenType { get; init; } = "Bearer";

    /// <summary>Seconds until the access token expires.</summary>
    [JsonPropertyName("expires_in")]
    public required int ExpiresIn { get; init; }
}

/// <summary><c>POST /v1/users</c>.</summary>
internal sealed class CreateUserRequest
{
    [JsonPropertyName("username")]
    public string? Username { get; set; }

    [JsonPropertyName("password")]
    public string? Password { get; set; }

    [JsonPropertyName("role")]
    public string? Role { get; set; }
}

/// <summary><c>PATCH /v1/users/{id}</c>: every field optional.</summary>
internal sealed class UpdateUserRequest
{
    [JsonPropertyName("role")]
    public string? Role { get; set; }

    [JsonPropertyName("password")]
    public string? Password { get; set; }

    [JsonPropertyName("disabled")]
    public bool? Disabled { get; set; }
}

/// <summary><c>POST /v1/users/me/password</c>.</summary>
internal sealed class ChangePasswordRequest
{
    [JsonPropertyName("current_password")]
    public string? CurrentPassword { get; set; }

    [JsonPropertyName("new_password")]
    public string? NewPassword { get; set; }
}

/// <summary>A user as the API shows it (never the password hash).</summary>
internal sealed class UserResponse
{
    [JsonPropertyName("id")]
    public long Id { get; init; }

    [JsonPropertyName("username")]
    public required string Username { get; init; }

    [JsonPropertyName("role")]
    public required string Role { get; init; }

    [JsonPropertyName("disabled")]
    public bool Disabled { get; init; }

    [JsonPropertyName("created_at")]
    public required string CreatedAt { get; init; }

    [JsonPropertyName("updated_at")]
    public required string UpdatedAt { get; init; }
}

internal sealed class UserListResponse
{
    [JsonPropertyName("users")]
    public required List<UserResponse> Users { get; init; }
}

/// <summary>A per-key rate limit.</summary>
internal sealed class RateLimitSetting
{
    [JsonPropertyName("per_second")]
    public double PerSecond { get; set; }

    [JsonPropertyName("burst")]
    public int Burst { get; set; }
}

/// <summary><c>POST /v1/keys</c>.</summary>
internal sealed class CreateKeyRequest
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("role")]
    public string? Role { get; set; }

    [JsonPropertyName("rate_limit")]
    public RateLimitSetting? RateLimit { get; set; }
}

/// <summary>An API key as the API shows it; <see cref="Key"/> only once, when it is created.</summary>
internal sealed class KeyResponse
{
    [JsonPropertyName("id")]
    public long Id { get; init; }

    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("role")]
    public required string Role { get; init; }

    [JsonPropertyName("rate_limit")]
    public RateLimitSetting? RateLimit { get; init; }

    [JsonPropertyName("created_at")]
    public required string CreatedAt { get; init; }

    [JsonPropertyName("revoked")]
    public bool Revoked { get; init; }

    /// <summary>The key itself: shown once, stored only as a hash.</summary>
    [JsonPropertyName("key")]
    public string? Key { get; init; }
}

internal sealed class KeyListResponse
{
    [JsonPropertyName("keys")]
    public required List<KeyResponse> Keys { get; init; }
}

/// <summary>
/// The auth endpoints' JSON. Unknown fields are refused, so a misspelt field or a smuggled one
/// (<c>"role"</c> in a password change) is an error, never silently ignored.
/// </summary>
[JsonSourceGenerationOptions(
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    MaxDepth = 8)]
[JsonSerializable(typeof(LoginRequest))]
[JsonSerializable(typeof(RefreshRequest))]
[JsonSerializable(typeof(LogoutRequest))]
[JsonSerializable(typeof(TokenResponse))]
[JsonSerializable(typeof(CreateUserRequest))]
[JsonSerializable(typeof(UpdateUserRequest))]
[JsonSerializable(typeof(ChangePasswordRequest))]
[JsonSerializable(typeof(UserResponse))]
[JsonSerializable(typeof(UserListResponse))]
[JsonSerializable(typeof(CreateKeyRequest))]
[JsonSerializable(typeof(KeyResponse))]
[JsonSerializable(typeof(KeyListResponse))]
internal sealed partial class AuthJsonContext : JsonSerializerContext;
