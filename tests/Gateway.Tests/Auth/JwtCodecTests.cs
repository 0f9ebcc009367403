using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Gateway.Auth;

namespace Gateway.Tests.Auth;

public sealed class JwtCodecTests
{
    private const long Now = 1_800_000_000;
    private static readonly SigningKey s_key = new("k1", RandomNumberGenerator.GetBytes(32));
    private readonly JwtCodec _codec = new(new SigningKeyRing([s_key]), "iss", "aud", 30);

    private static AccessClaims Claims(long nbf = Now, long exp = Now + 900) => new(42, "alice", Role.Worker, "jti-1", "sid-1", 3, nbf, nbf, exp);

    [Fact]
    public void Issued_Validates_WithEveryClaim()
    {
        var token = _codec.Issue(Claims());
        Assert.Equal(TokenStatus.Valid, _codec.Validate(token, Now, out var claims));
        Assert.Equal(Claims(), claims);
    }

    [Theory]
    [InlineData(Now + 900 + 29, "Valid")] // within the leeway
    [InlineData(Now + 900 + 30, "Expired")]
    [InlineData(Now - 29, "Valid")]
    [InlineData(Now - 31, "NotYetValid")]
    public void TimeClaims_HonourTheLeewayAndNoMore(long now, string expected)
    {
        Assert.Equal(expected, _codec.Validate(_codec.Issue(Claims()), now, out _).ToString());
    }

    [Fact]
    public void OtherIssuerOrAudience_Refused()
    {
        var other = new JwtCodec(new SigningKeyRing([s_key]), "someone", "aud", 30).Issue(Claims());
        Assert.Equal(TokenStatus.WrongIssuer, _codec.Validate(other, Now, out _));
        var otherAudience = new JwtCodec(new SigningKeyRing([s_key]), "iss", "elsewhere", 30).Issue(Claims());
        Assert.Equal(TokenStatus.WrongAudience, _codec.Validate(otherAudience, Now, out _));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("HS384")]
    [InlineData("HS512")]
    [InlineData("RS256")]
    [InlineData("ES256")]
    [InlineData("hs256")]
    public void AnyAlgorithmButHs256_Refused(string alg)
    {
        var parts = _codec.Issue(Claims()).Split('.');
        var header = Base64Url.EncodeToString(Encoding.UTF8.GetBytes($$"""{"alg":"{{alg}}","typ":"JWT","kid":"k1"}"""));
        var input = header + "." + parts[1];
        var signed = input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(s_key.Secret, Encoding.ASCII.GetBytes(input)));
        Assert.Equal(TokenStatus.AlgorithmNotAllowed, _codec.Validate(signed, Now, out _));
        Assert.NotEqual(TokenStatus.Valid, _codec.Validate(input + ".", Now, out _));
    }

    [Fact]
    public void RotatedRing_OldTokensStillValid_NewOnesSignedWithTheNewKey()
    {
        var ring = new SigningKeyRing([s_key]);
        var codec = new JwtCodec(ring, "iss", "aud", 30);
        var old = codec.Issue(Claims());
        var changed = 0;
        ring.Changed += () => changed++;
        ring.Replace([new SigningKey("k2", RandomNumberGenerator.GetBytes(32)), s_key]);
        Assert.Equal(1, changed);
        Assert.Equal(TokenStatus.Valid, codec.Validate(old, Now, out _));
        var fresh = codec.Issue(Claims());
        Assert.Contains("\"kid\":\"k2\"", Encoding.UTF8.GetString(Base64Url.DecodeFromChars(fresh.Split('.')[0])), StringComparison.Ordinal);

        // Once the old key is dropped its tokens are refused.
        ring.Replace([ring.Active]);
        Assert.Equal(TokenStatus.UnknownKey, codec.Validate(old, Now, out _));
        Assert.Equal(TokenStatus.Valid, codec.Validate(fresh, Now, out _));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData("..")]
    [InlineData("!!!.???.***")]
    [InlineData("e30.e30.")]
    public void Malformed_Refused(string token)
    {
        Assert.NotEqual(TokenStatus.Valid, _codec.Validate(token, Now, out _));
    }

    [Fact]
    public void FlippedSignatureBit_Refused()
    {
        var token = _codec.Issue(Claims());
        var signature = Base64Url.DecodeFromChars(token.Split('.')[2]);
        signature[5] ^= 1;
        var altered = token[..(token.LastIndexOf('.') + 1)] + Base64Url.EncodeToString(signature);
        Assert.Equal(TokenStatus.BadSignature, _codec.Validate(altered, Now, out _));
    }

    [Theory]
    [InlineData("a:c2hvcnQ", "bytes")]
    [InlineData("nocolon", "id:base64")]
    [InlineData("bad id!:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "may hold only")]
    [InlineData("a:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,a:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "twice")]
    [InlineData("", "no keys")]
    public void KeyRingText_Problems_AreNamed(string text, string message)
    {
        Assert.False(SigningKeyRing.TryParse(text, out _, out var error));
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.DoesNotContain("AAAAAAAA", error, StringComparison.Ordinal);
    }

    [Fact]
    public void KeyRingText_Parses_FirstKeySigns()
    {
        Assert.True(SigningKeyRing.TryParse($"new:{Base64Url.EncodeToString(new byte[32])}, old:{Convert.ToBase64String(new byte[48])}", out var keys, out _));
        Assert.Equal(["new", "old"], keys.Select(k => k.Id));
        Assert.Equal(48, keys[1].Secret.Length);
    }
}
