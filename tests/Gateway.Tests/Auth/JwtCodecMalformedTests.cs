using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Gateway.Auth;

namespace Gateway.Tests.Auth;

/// <summary>
/// Header and payload JSON that is well-formed for a JSON reader but not decodable as text (a lone
/// UTF-16 surrogate escape), or odd in shape, is refused as malformed: never an exception, which
/// the middleware would turn into a 500 for a caller that is not even authenticated.
/// </summary>
public sealed class JwtCodecMalformedTests
{
    private const long Now = 1_800_000_000;
    private static readonly SigningKey s_key = new("k1", RandomNumberGenerator.GetBytes(32));
    private readonly JwtCodec _codec = new(new SigningKeyRing([s_key]), "iss", "aud", 30);

    private const string GoodPayload = """{"iss":"iss","aud":"aud","sub":"42","name":"alice","role":"worker","jti":"j","sid":"s","sv":1,"iat":1800000000,"nbf":1800000000,"exp":1800000900}""";

    /// <summary>A token with the given header and payload JSON, signed with the ring's key.</summary>
    private static string Signed(string header, string payload)
    {
        var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
        return input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(s_key.Secret, Encoding.ASCII.GetBytes(input)));
    }

    [Fact]
    public void WellFormedToken_Valid()
    {
        // The cases below differ from this one only where they say.
        Assert.Equal(TokenStatus.Valid, _codec.Validate(Signed("""{"alg":"HS256","kid":"k1"}""", GoodPayload), Now, out _));
    }

    [Theory]
    [InlineData("""{"alg":"HS256","kid":"k1","\udc00":1}""")]
    [InlineData("""{"\ud800":"x","alg":"HS256","kid":"k1"}""")]
    [InlineData("""{"alg":"HS\udc00","kid":"k1"}""")]
    [InlineData("""{"alg":"HS256","kid":"k1","typ":"\ud800"}""")]
    [InlineData("""{"alg":"HS256","kid":"k\udc00"}""")]
    [InlineData("""{"alg":"HS256","kid":"k1","x":[[[[[[]]]]]]}""")]
    [InlineData("""{"alg":"HS256","kid":"k1"} {}""")]
    [InlineData("""{"alg":"HS256","kid":"k1","kid":"k1"}""")]
    [InlineData("""{"alg":"HS256","kid":7}""")]
    [InlineData("""[]""")]
    public void HeaderThatIsNotValidText_Malformed_WithoutThrowing(string header)
    {
        var status = _codec.Validate(Signed(header, GoodPayload), Now, out _);
        Assert.NotEqual(TokenStatus.Valid, status);
        Assert.True(status is TokenStatus.Malformed or TokenStatus.AlgorithmNotAllowed, status.ToString());
    }

    [Fact]
    public void HeaderWithALoneSurrogateMemberName_Malformed()
    {
        Assert.Equal(TokenStatus.Malformed, _codec.Validate(Signed("""{"alg":"HS256","kid":"k1","\udc00":1}""", GoodPayload), Now, out _));
    }

    [Theory]
    [InlineData("\"\\udc00\":1,")]
    [InlineData("\"x\":\"\\ud800\",")]
    [InlineData("\"x\":{\"\\udc00\":1},")]
    [InlineData("\"x\":[\"\\udc00\"],")]
    public void PayloadThatIsNotValidText_Malformed(string extra)
    {
        var payload = "{" + extra + GoodPayload[1..];
        Assert.Equal(TokenStatus.Malformed, _codec.Validate(Signed("""{"alg":"HS256","kid":"k1"}""", payload), Now, out _));
    }

    [Theory]
    [InlineData("name", "\"al\\udc00ice\"")]
    [InlineData("jti", "\"\\ud800\"")]
    [InlineData("sid", "\"\\ud800\"")]
    [InlineData("sub", "\"4\\udc002\"")]
    [InlineData("iss", "\"\\udc00\"")]
    public void PayloadClaimThatIsNotValidText_Malformed(string claim, string value)
    {
        var payload = GoodPayload.Replace($"\"{claim}\":", $"\"{claim}_old\":", StringComparison.Ordinal);
        payload = "{\"" + claim + "\":" + value + "," + payload[1..];
        Assert.Equal(TokenStatus.Malformed, _codec.Validate(Signed("""{"alg":"HS256","kid":"k1"}""", payload), Now, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void HeaderOrPayloadThatIsNotUtf8_Malformed(int part)
    {
        // Bytes that are not UTF-8 inside a string: the JSON reader passes them until something decodes them.
        byte[] header = [.. Encoding.UTF8.GetBytes("""{"alg":"HS256","kid":"k1","typ":"J"""), 0xFF, .. "\"}"u8];
        byte[] payload = [.. Encoding.UTF8.GetBytes(GoodPayload[..^1] + ""","x":"a"""), 0xC0, 0x80, .. "\"}"u8];
        var input = Base64Url.EncodeToString(part == 0 ? header : Encoding.UTF8.GetBytes("""{"alg":"HS256","kid":"k1"}"""))
            + "." + Base64Url.EncodeToString(part == 1 ? payload : Encoding.UTF8.GetBytes(GoodPayload));
        var token = input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(s_key.Secret, Encoding.ASCII.GetBytes(input)));
        Assert.Equal(TokenStatus.Malformed, _codec.Validate(token, Now, out _));
    }
}
