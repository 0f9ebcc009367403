using Sentry;

namespace Gateway.Telemetry;

/// <summary>
/// Removes credentials from what Sentry sends (events and transactions), whatever the SDK's own
/// defaults: with <c>SendDefaultPii</c> off it strips only <c>Authorization</c> and <c>Cookie</c>,
/// and an <c>X-API-Key</c> went out with every error event (issue 11). Scrubbed: every
/// credential header (<see cref="IsCredentialHeader"/>), cookies, query values with credential
/// names, and the whole body of the identity endpoints (logins, refreshes, password changes,
/// users and keys), should the body ever be captured.
/// </summary>
internal static class SentryScrubber
{
    /// <summary>What a scrubbed value is replaced with (the name stays: it tells that the header was there).</summary>
    public const string Filtered = "[Filtered]";

    private static readonly string[] s_credentialWords = ["token", "secret", "password", "passwd", "auth", "cookie", "session", "api-key", "apikey", "api_key", "credential", "signature"];

    /// <summary>
    /// Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-API-Key, and any name holding
    /// token, secret, password, auth, session, api-key, credential or signature.
    /// </summary>
    public static bool IsCredentialHeader(string name)
    {
        foreach (var word in s_credentialWords)
        {
            if (name.Contains(word, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Paths whose bodies hold passwords, tokens or key material.</summary>
    public static bool IsIdentityPath(string? url)
    {
        if (string.IsNullOrEmpty(url))
        {
            return false;
        }

        var path = Uri.TryCreate(url, UriKind.Absolute, out var absolute) ? absolute.AbsolutePath : url;
        return path.StartsWith("/v1/", StringComparison.OrdinalIgnoreCase);
    }

    public static SentryEvent Scrub(SentryEvent sentryEvent)
    {
        Scrub(sentryEvent.Request);
        return sentryEvent;
    }

    public static SentryTransaction Scrub(SentryTransaction transaction)
    {
        Scrub(transaction.Request);
        return transaction;
    }

    internal static void Scrub(SentryRequest? request)
    {
        if (request is null)
        {
            return;
        }

        if (request.Headers is { Count: > 0 } headers)
        {
            foreach (var name in headers.Keys.ToArray())
            {
                if (IsCredentialHeader(name))
                {
                    headers[name] = Filtered;
                }
            }
        }

        if (request.Cookies is { Length: > 0 })
        {
            request.Cookies = Filtered;
        }

        if (request.QueryString is { Length: > 0 } query)
        {
            request.QueryString = ScrubQuery(query);
        }

        if (request.Data is not null && IsIdentityPath(request.Url))
        {
            request.Data = Filtered;
        }
    }

    /// <summary><c>a=1&amp;access_token=x</c> becomes <c>a=1&amp;access_token=[Filtered]</c>.</summary>
    internal static string ScrubQuery(string query)
    {
        var parts = query.TrimStart('?').Split('&');
        for (var i = 0; i < parts.Length; i++)
        {
            var equals = parts[i].IndexOf('=', StringComparison.Ordinal);
            var name = Uri.UnescapeDataString(equals < 0 ? parts[i] : parts[i][..equals]);
            if (equals >= 0 && (IsCredentialHeader(name) || name.Equals("key", StringComparison.OrdinalIgnoreCase)))
            {
                parts[i] = parts[i][..(equals + 1)] + Filtered;
            }
        }

        return (query.StartsWith('?') ? "?" : string.Empty) + string.Join('&', parts);
    }
}
