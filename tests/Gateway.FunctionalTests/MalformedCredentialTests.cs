using System.Buffers.Text;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Gateway.FunctionalTests;

/// <summary>
/// Credentials an attacker can send without any key: whatever the token holds, the answer is a
/// 401 with <c>{"error": ...}</c> before any signature is checked, never a 500.
/// </summary>
[Collection(ReferenceServerCollection.Name)]
public class MalformedCredentialTests(ReferenceServerFixture fixture)
{
    private static string Token(string header, string payload = """{"sub":"1"}""") =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload)) + "." + Base64Url.EncodeToString(new byte[32]);

    [Theory]
    [InlineData("""{"alg":"HS256","kid":"k1","\udc00":1}""")]
    [InlineData("""{"\ud800":0}""")]
    [InlineData("""{"alg":"\udc00"}""")]
    [InlineData("""{"alg":"HS256","kid":"\udc00"}""")]
    public async Task JwtHeaderWithALoneSurrogateEscape_Is401(string header)
    {
        using var client = fixture.Server.NewClient(Token(header));
        using var response = await client.PostAsync(
            "/v2/models/identity/infer", new StringContent("""{"inputs":[]}""", Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{(int)response.StatusCode}: {text}");
        using var json = JsonDocument.Parse(text);
        Assert.StartsWith("the access token", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
