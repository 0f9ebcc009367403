using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Buffers;
using Gateway.Protocol;

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
/// Issues and validates access tokens: compact JWS with HS256 only (RFC 7515, 7519). Following
/// RFC 8725 the algorithm is pinned: the header must say <c>HS256</c> and nothing in the token
/// chooses how it is checked (<c>none</c>, other HMAC sizes, RSA or EC names are refused before
/// any key is touched; <c>jku</c>/<c>jwk</c>/<c>x5u</c> are never followed; <c>crit</c> is
/// refused). <c>iss</c>, <c>aud</c>, <c>exp</c>, <c>nbf</c>, <c>jti</c>, <c>sub</c>,
/// <c>role</c> are required. This is the cold path: the authenticator caches what passes.
/// </summary>
internal sealed class JwtCodec(SigningKeyRing keys, string issuer, string audience, int clockSkewSeconds)
{
    /// <summary>Tokens longer than this are refused unread.</summary>
    public const int MaxTokenLength = 4096;

    private readonly byte[] _issuer = Encoding.UTF8.GetBytes(issuer);
    private readonly byte[] _audience = Encoding.UTF8.GetBytes(audience);

    public SigningKeyRing Keys => keys;

    /// <summary>Signs a token for the claims with the active key.</summary>
    public string Issue(in AccessClaims claims)
    {
        var key = keys.Active;
        using var header = new PooledBufferWriter(128);
        using (var writer = new Utf8JsonWriter(header))
        {
            writer.WriteStartObject();
            writer.WriteString("alg"u8, "HS256"u8);
            writer.WriteString("typ"u8, "JWT"u8);
            writer.WriteString("kid"u8, key.Id);
            writer.WriteEndObject();
        }

        using var payload = new PooledBufferWriter(512);
        using (var writer = new Utf8JsonWriter(payload))
        {
            writer.WriteStartObject();
            writer.WriteString("iss"u8, _issuer);
            writer.WriteString("aud"u8, _audience);
            writer.WriteString("sub"u8, claims.UserId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            writer.WriteString("name"u8, claims.Username);
            writer.WriteString("role"u8, claims.Role.Name());
            writer.WriteString("jti"u8, claims.Jti);
            writer.WriteString("sid"u8, claims.SessionId);
            writer.WriteNumber("sv"u8, claims.Generation);
            writer.WriteNumber("iat"u8, claims.IssuedAt);
            writer.WriteNumber("nbf"u8, claims.NotBefore);
            writer.WriteNumber("exp"u8, claims.Expires);
            writer.WriteEndObject();
        }

        var signingInput = Base64Url.EncodeToString(header.WrittenSpan) + "." + Base64Url.EncodeToString(payload.WrittenSpan);
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(key.Secret, Encoding.ASCII.GetBytes(signingInput), mac);
        return signingInput + "." + Base64Url.EncodeToString(mac);
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

            var header = buffer[..headerLength];
            var status = ReadHeader(header, out var keyId);
            if (status != TokenStatus.Valid)
            {
                return status;
            }

            if (!keys.TryFind(keyId, out var key))
            {
                return TokenStatus.UnknownKey;
            }

            Span<byte> signature = stackalloc byte[32];
            if (!TryDecode(token[(lastDot + 1)..], buffer[headerLength..], out var signatureLength) || signatureLength != 32)
            {
                return TokenStatus.BadSignature;
            }

            buffer.Slice(headerLength, 32).CopyTo(signature);
            var signingInput = token[..lastDot];
            var ascii = buffer[..signingInput.Length];
            for (var i = 0; i < signingInput.Length; i++)
            {
                ascii[i] = (byte)signingInput[i];
            }

            Span<byte> expected = stackalloc byte[32];
            HMACSHA256.HashData(key.Secret, ascii, expected);
            if (!CryptographicOperations.FixedTimeEquals(expected, signature))
            {
                return TokenStatus.BadSignature;
            }

            if (!TryDecode(token[(firstDot + 1)..lastDot], buffer, out var payloadLength))
            {
                return TokenStatus.Malformed;
            }

            return ReadPayload(buffer[..payloadLength], now, out claims);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
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

    private TokenStatus ReadPayload(ReadOnlySpan<byte> json, long now, out AccessClaims claims)
    {
        claims = default;
        bool issuerOk = false, audienceSeen = false, audienceOk = false;
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
                    case "iss":
                        issuerOk = reader.TokenType == JsonTokenType.String && reader.ValueTextEquals(_issuer);
                        break;
                    case "aud":
                        audienceSeen = true;
                        if (reader.TokenType == JsonTokenType.String)
                        {
                            audienceOk = reader.ValueTextEquals(_audience);
                        }
                        else if (reader.TokenType == JsonTokenType.StartArray)
                        {
                            while (reader.Read() && reader.TokenType == JsonTokenType.String)
                            {
                                audienceOk |= reader.ValueTextEquals(_audience);
                            }

                            if (reader.TokenType != JsonTokenType.EndArray)
                            {
                                return TokenStatus.Malformed;
                            }
                        }
                        else
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

        if (!issuerOk)
        {
            return TokenStatus.WrongIssuer;
        }

        if (!audienceSeen || !audienceOk)
        {
            return TokenStatus.WrongAudience;
        }

        if (now >= exp.Value + clockSkewSeconds)
        {
            return TokenStatus.Expired;
        }

        if (now + clockSkewSeconds < nbf.Value)
        {
            return TokenStatus.NotYetValid;
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
