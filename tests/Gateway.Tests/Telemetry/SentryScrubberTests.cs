using Gateway.Telemetry;
using Sentry;

namespace Gateway.Tests.Telemetry;

/// <summary>No credential leaves in a Sentry event or transaction, whatever the request carried.</summary>
public sealed class SentryScrubberTests
{
    [Theory]
    [InlineData("Authorization")]
    [InlineData("authorization")]
    [InlineData("Proxy-Authorization")]
    [InlineData("Cookie")]
    [InlineData("Set-Cookie")]
    [InlineData("X-API-Key")]
    [InlineData("x-api-key")]
    [InlineData("X-Refresh-Token")]
    [InlineData("X-Amz-Security-Token")]
    [InlineData("X-Client-Secret")]
    [InlineData("X-Password")]
    [InlineData("X-Session-Id")]
    public void CredentialHeaders_AreFiltered(string header) => Assert.True(SentryScrubber.IsCredentialHeader(header));

    [Theory]
    [InlineData("Content-Type")]
    [InlineData("User-Agent")]
    [InlineData("X-Correlation-ID")]
    [InlineData("Inference-Header-Content-Length")]
    [InlineData("traceparent")]
    public void OrdinaryHeaders_AreKept(string header) => Assert.False(SentryScrubber.IsCredentialHeader(header));

    [Fact]
    public void Event_LosesCredentialHeadersCookiesQueryValuesAndIdentityBodies()
    {
        var sentryEvent = new SentryEvent
        {
            Request = new SentryRequest
            {
                Url = "http://gateway:8080/v1/users/me/password",
                Method = "POST",
                Data = """{"current_password":"old-secret","new_password":"new-secret"}""",
                Cookies = "session=abc",
                QueryString = "?debug=1&access_token=query-secret&key=gk_1_x",
            },
        };
        sentryEvent.Request.Headers["X-API-Key"] = "gk_1_secret";
        sentryEvent.Request.Headers["Authorization"] = "Bearer eyJ";
        sentryEvent.Request.Headers["Content-Type"] = "application/json";

        var scrubbed = SentryScrubber.Scrub(sentryEvent).Request;
        Assert.Equal(SentryScrubber.Filtered, scrubbed.Headers["X-API-Key"]);
        Assert.Equal(SentryScrubber.Filtered, scrubbed.Headers["Authorization"]);
        Assert.Equal("application/json", scrubbed.Headers["Content-Type"]);
        Assert.Equal(SentryScrubber.Filtered, scrubbed.Cookies);
        Assert.Equal("?debug=1&access_token=[Filtered]&key=[Filtered]", scrubbed.QueryString);
        Assert.Equal(SentryScrubber.Filtered, scrubbed.Data);
    }

    [Fact]
    public void InferenceBodies_AreNotIdentityBodies()
    {
        Assert.False(SentryScrubber.IsIdentityPath("http://gateway/v2/models/identity/infer"));
        Assert.True(SentryScrubber.IsIdentityPath("http://gateway/v1/auth/login"));
        Assert.True(SentryScrubber.IsIdentityPath("/v1/keys"));
    }
}
