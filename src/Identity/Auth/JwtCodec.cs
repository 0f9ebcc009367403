using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using Gateway.Protocol;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Gateway.Auth;

/// <summary>Why a token was refused (or <see cref="Valid"/>).</summary>
internal enum TokenStatus
{
    Valid,
    Malformed,
    AlgorithmNotAllowed,
    UnknownKey,
    BadSignature,
    WrongIssuer,
    WrongAudience,
    Expired,
    NotYetValid,
    Revoked,
}

/// <summary>The claims of a validated access token.</summary>
internal readonly record struct AccessClaims(
    long UserId, string Username, Role Role, string Jti, string SessionId, long Generation, long IssuedAt, long NotBefore, long Expires);

/// <summary>
/// Issues and validates access tokens: compact JWS with HS256 only (RFC 7515, 7519), through
/// <see cref="JsonWebTokenHandler"/> (Microsoft.IdentityModel.JsonWebTokens, the library of the
/// JwtBearer stack). Following RFC 8725 the algorithm is pinned: the header must say
/// <c>HS256</c> and nothing in the token chooses how it is checked (<c>none</c>, other HMAC
/// sizes, RSA or EC names are refused before any key is touched; <c>jku</c>/<c>jwk</c>/<c>x5u</c>
/// are never followed; <c>crit</c> is refused; the key is the one its <c>kid</c> names, never
/// tried against every key). <c>iss</c>, <c>aud</c>, <c>exp</c>, <c>nbf</c>, <c>jti</c>,
/// <c>sub</c>, <c>role</c> are required. This is the cold path: the authenticator caches what passes.
/// </summary>
/// <remarks>
/// The handler checks the signature, the algorithm, the issuer and the audience. Around it the
/// codec keeps the checks the handler does not make or makes more loosely: a strict read of the
/// header before the handler sees the token (one <c>alg</c>, one string <c>kid</c>, no
/// <c>crit</c>, text that decodes to UTF-8 without lone surrogates), a strict read of the payload
/// (no repeated claim, typed claims: integer times, a string <c>sub</c> of digits, an unescaped
/// role name) and the lifetime against the caller's clock with the codec's own boundaries
/// (expired from <c>exp + leeway</c> on, not after it). Whatever the handler throws or reports
/// becomes a <see cref="TokenStatus"/>: the caller never sees an exception.
/// </remarks>
internal sealed class JwtCodec
{
    /// <summary>Tokens longer than this are refused unread.</summary>
    public const int MaxTokenLength = 4096;

    private readonly SigningKeyRing _keys;
    private readonly int _clockSkewSeconds;
    private readonly string _issuerText;
    private readonly string _audienceText;
    private readonly JsonWebTokenHandler _handler = new()
    {
        MaximumTokenSizeInBytes = MaxTokenLength,
        SetDefaultTimesOnTokenCreation = false,
    };

    private volatile KeySnapshot? _snapshot;

    public JwtCodec(SigningKeyRing keys, string issuer, string audience, int clockSkewSeconds)
    {
        _keys = keys;
        _issuerText = issuer;
        _audienceText = audience;
        _clockSkewSeconds = clockSkewSeconds;
    }

    public SigningKeyRing Keys => _keys;

    /// <summary>Signs a token for the claims with the active key.</summary>
    public string Issue(in AccessClaims claims)
    {
        var snapshot = Snapshot();
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = _issuerText,
            Audience = _audienceText,
            IssuedAt = DateTimeOffset.FromUnixTimeSeconds(claims.IssuedAt).UtcDateTime,
            NotBefore = DateTimeOffset.FromUnixTimeSeconds(claims.NotBefore).UtcDateTime,
            Expires = DateTimeOffset.FromUnixTimeSeconds(claims.Expires).UtcDateTime,
            SigningCredentials = snapshot.Signing,
            Claims = new Dictionary<string, object>(6, StringComparer.Ordinal)
            {
                ["sub"] = claims.UserId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["name"] = claims.Username,
                ["role"] = claims.Role.Name(),
                ["jti"] = claims.Jti,
                ["sid"] = claims.SessionId,
                ["sv"] = claims.Generation,
            },
        };
        return _handler.CreateToken(descriptor);
    }

    /// <summary>Checks a compact token completely; <paramref name="now"/> is Unix seconds.</summary>
    public TokenStatus Validate(ReadOnlySpan<char> token, long now, out AccessClaims claims)
    {
        claims = default;
        if (token.Length is 0 or > MaxTokenLength)
        {
            return TokenStatus.Malformed;
        }

        var firstDot = token.IndexOf('.');
        var lastDot = token.LastIndexOf('.');
        if (firstDot <= 0 || lastDot == firstDot || lastDot == token.Length - 1 || token[(firstDot + 1)..lastDot].Contains('.'))
        {
            return TokenStatus.Malformed;
        }

        byte[]? rented = null;
        try
        {
            rented = ArrayPool<byte>.Shared.Rent(token.Length * 2);
            var buffer = rented.AsSpan();
            if (!TryDecode(token[..firstDot], buffer, out var headerLength))
            {
                return TokenStatus.Malformed;
            }

            var status = ReadHeader(buffer[..headerLength], out var keyId);
            if (status != TokenStatus.Valid)
            {
                return status;
            }

            if (!_keys.TryFind(keyId, out _))
            {
                return TokenStatus.UnknownKey;
            }

            if (!TryDecode(token[(lastDot + 1)..], buffer, out var signatureLength) || signatureLength != 32)
            {
                return TokenStatus.BadSignature;
            }

            var verdict = Verify(token.ToString());
            if (verdict is TokenStatus.BadSignature or TokenStatus.UnknownKey or TokenStatus.AlgorithmNotAllowed or TokenStatus.Malformed)
            {
                return verdict;
            }

            if (!TryDecode(token[(firstDot + 1)..lastDot], buffer, out var payloadLength))
            {
                return TokenStatus.Malformed;
            }

            status = ReadPayload(buffer[..payloadLength], out claims);
            if (status != TokenStatus.Valid)
            {
                return status;
            }

            // Issuer and audience come after the payload's shape, as they always have: a signed
            // token with a missing claim is malformed whoever issued it.
            if (verdict != TokenStatus.Valid)
            {
                claims = default;
                return verdict;
            }

            if (now >= claims.Expires + _clockSkewSeconds)
            {
                claims = default;
                return TokenStatus.Expired;
            }

            if (now + _clockSkewSeconds < claims.NotBefore)
            {
                claims = default;
                return TokenStatus.NotYetValid;
            }

            return TokenStatus.Valid;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Signature, algorithm, issuer and audience, by the handler.</summary>
    private TokenStatus Verify(string token)
    {
        TokenValidationResult result;
        try
        {
            // Completes synchronously: HMAC keys are in memory and no configuration manager is set,
            // so nothing inside the handler awaits.
            result = _handler.ValidateTokenAsync(token, Snapshot().Parameters).GetAwaiter().GetResult();
        }
        catch (Exception exception) when (exception is ArgumentException or FormatException or JsonException or InvalidOperationException or SecurityTokenException)
        {
            return TokenStatus.Malformed;
        }

        return result.IsValid ? TokenStatus.Valid : result.Exception switch
        {
            SecurityTokenSignatureKeyNotFoundException => TokenStatus.UnknownKey,
            SecurityTokenInvalidSignatureException => TokenStatus.BadSignature,
            SecurityTokenInvalidAlgorithmException => TokenStatus.AlgorithmNotAllowed,
            SecurityTokenInvalidIssuerException => TokenStatus.WrongIssuer,
            SecurityTokenInvalidAudienceException => TokenStatus.WrongAudience,
            _ => TokenStatus.Malformed,
        };
    }

    /// <summary>The handler's view of the ring, rebuilt when the ring changes.</summary>
    private KeySnapshot Snapshot()
    {
        var snapshot = _snapshot;
        var version = _keys.Version;
        if (snapshot is null || snapshot.Version != version)
        {
            snapshot = new KeySnapshot(_keys, version, _issuerText, _audienceText);
            _snapshot = snapshot;
        }

        return snapshot;
    }

    /// <summary>Signing credentials for the active key and validation parameters for every key of one ring version.</summary>
    private sealed class KeySnapshot
    {
        public KeySnapshot(SigningKeyRing ring, int version, string issuer, string audience)
        {
            Version = version;
            var keys = new SecurityKey[ring.Keys.Count];
            for (var i = 0; i < keys.Length; i++)
            {
                keys[i] = new SymmetricSecurityKey(ring.Keys[i].Secret) { KeyId = ring.Keys[i].Id };
            }

            Signing = new SigningCredentials(keys[0], SecurityAlgorithms.HmacSha256);
            Parameters = new TokenValidationParameters
            {
                ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                IssuerSigningKeys = keys,
                // The kid names the key; a token is never tried against the others.
                TryAllIssuerSigningKeys = false,
                RequireSignedTokens = true,
                ValidateIssuer = true,
                ValidIssuer = issuer,
                ValidateAudience = true,
                ValidAudience = audience,
                IgnoreTrailingSlashWhenValidatingAudience = false,
                // The codec checks exp and nbf itself against the clock it is given (see Validate).
                ValidateLifetime = false,
                RequireExpirationTime = false,
                ValidateIssuerSigningKey = false,
                ValidateTokenReplay = false,
                ValidateActor = false,
                SaveSigninToken = false,
            };
        }

        public int Version { get; }

        public SigningCredentials Signing { get; }

        public TokenValidationParameters Parameters { get; }
    }

    private static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination, out int written)
    {
        written = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not '-' and not '_')
            {
                return false;
            }
        }

        return Base64Url.DecodeFromChars(text, destination, out _, out written) == OperationStatus.Done;
    }

    private static TokenStatus ReadHeader(ReadOnlySpan<byte> json, out ReadOnlySpan<byte> keyId)
    {
        keyId = default;
        var algorithm = false;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 4 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return TokenStatus.Malformed;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                // Header and payload must be text (RFC 7519 §7.2: UTF-8): an escape that decodes
                // to a lone UTF-16 surrogate is refused before anything compares or decodes it.
                if (JsonText.Problem(ref reader) is not null)
                {
                    return TokenStatus.Malformed;
                }

                if (reader.ValueTextEquals("alg"u8))
                {
                    reader.Read();
                    if (reader.TokenType == JsonTokenType.String && JsonText.Problem(ref reader) is not null)
                    {
                        return TokenStatus.Malformed;
                    }

                    if (algorithm || reader.TokenType != JsonTokenType.String || !reader.ValueTextEquals("HS256"u8))
                    {
                        return TokenStatus.AlgorithmNotAllowed;
                    }

                    algorithm = true;
                }
                else if (reader.ValueTextEquals("kid"u8))
                {
                    reader.Read();
                    if (!keyId.IsEmpty || reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || reader.HasValueSequence)
                    {
                        return TokenStatus.Malformed;
                    }

                    keyId = reader.ValueSpan;
                }
                else if (reader.ValueTextEquals("crit"u8))
                {
                    // No extension is understood, so a critical one can never be honoured (RFC 7515 §4.1.11).
                    return TokenStatus.Malformed;
                }
                else
                {
                    reader.Read();
                    if (JsonText.SkipChecked(ref reader) is not null)
                    {
                        return TokenStatus.Malformed;
                    }
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return TokenStatus.Malformed;
            }
        }
        catch (JsonException)
        {
            return TokenStatus.Malformed;
        }

        if (!algorithm)
        {
            return TokenStatus.AlgorithmNotAllowed;
        }

        return keyId.IsEmpty ? TokenStatus.UnknownKey : TokenStatus.Valid;
    }

    private static TokenStatus ReadPayload(ReadOnlySpan<byte> json, out AccessClaims claims)
    {
        claims = default;
        long? exp = null, nbf = null, iat = null, sub = null, sv = null;
        string? jti = null, name = null, sid = null;
        var role = Role.None;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 4 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return TokenStatus.Malformed;
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (JsonText.Problem(ref reader) is not null)
                {
                    return TokenStatus.Malformed;
                }

                var property = reader.GetString()!;
                if (!seen.Add(property))
                {
                    // A repeated claim reads differently in different parsers; refuse the ambiguity.
                    return TokenStatus.Malformed;
                }

                reader.Read();
                var probe = reader;
                if (JsonText.SkipChecked(ref probe) is not null)
                {
                    return TokenStatus.Malformed;
                }

                switch (property)
                {
                    case "aud":
                        // The handler compares the audience; here only its shape: one string or strings.
                        if (reader.TokenType == JsonTokenType.StartArray)
                        {
                            while (reader.Read() && reader.TokenType == JsonTokenType.String)
                            {
                            }

                            if (reader.TokenType != JsonTokenType.EndArray)
                            {
                                return TokenStatus.Malformed;
                            }
                        }
                        else if (reader.TokenType != JsonTokenType.String)
                        {
                            return TokenStatus.Malformed;
                        }

                        break;
                    case "exp":
                        exp = ReadInteger(ref reader);
                        break;
                    case "nbf":
                        nbf = ReadInteger(ref reader);
                        break;
                    case "iat":
                        iat = ReadInteger(ref reader);
                        break;
                    case "sv":
                        sv = ReadInteger(ref reader);
                        break;
                    case "sub":
                        sub = reader.TokenType == JsonTokenType.String && long.TryParse(reader.GetString(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) ? id : null;
                        break;
                    case "role":
                        if (reader.TokenType != JsonTokenType.String || reader.ValueIsEscaped || !Roles.TryParse(reader.ValueSpan, out role))
                        {
                            return TokenStatus.Malformed;
                        }

                        break;
                    case "jti":
                        jti = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        break;
                    case "sid":
                        sid = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        break;
                    case "name":
                        name = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return TokenStatus.Malformed;
            }
        }
        catch (JsonException)
        {
            return TokenStatus.Malformed;
        }
        catch (InvalidOperationException)
        {
            return TokenStatus.Malformed;
        }

        if (exp is null || nbf is null || sub is null || sv is null || string.IsNullOrEmpty(jti) || string.IsNullOrEmpty(sid) || name is null || role == Role.None)
        {
            return TokenStatus.Malformed;
        }

        claims = new AccessClaims(sub.Value, name, role, jti, sid, sv.Value, iat ?? nbf.Value, nbf.Value, exp.Value);
        return TokenStatus.Valid;
    }

    private static long? ReadInteger(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var value) ? value : null;

    /// <summary>A message for the client that says what was wrong without echoing the token.</summary>
    public static string Describe(TokenStatus status) => status switch
    {
        TokenStatus.Malformed => "the access token is malformed",
        TokenStatus.AlgorithmNotAllowed => "the access token's algorithm is not allowed (only HS256 is accepted)",
        TokenStatus.UnknownKey => "the access token was signed with an unknown key",
        TokenStatus.BadSignature => "the access token's signature is invalid",
        TokenStatus.WrongIssuer => "the access token was issued by another issuer",
        TokenStatus.WrongAudience => "the access token is meant for another audience",
        TokenStatus.Expired => "the access token has expired; refresh it or log in again",
        TokenStatus.NotYetValid => "the access token is not valid yet",
        TokenStatus.Revoked => "the access token has been revoked",
        _ => "the access token is invalid",
    };
}
