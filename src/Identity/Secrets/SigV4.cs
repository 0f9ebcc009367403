using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Gateway.Secrets;

/// <summary>AWS credentials: an access key pair and, for temporary credentials, a session token.</summary>
internal sealed record AwsCredentials(string AccessKeyId, string SecretAccessKey, string? SessionToken);

/// <summary>
/// AWS Signature Version 4 (the <c>AWS4-HMAC-SHA256</c> header form), written from the
/// specification and checked against AWS's published test suite (tests/Gateway.Tests/Secrets).
/// Only what a JSON API call needs: any method, path, query and headers, a hashed payload.
/// </summary>
internal static class SigV4
{
    public const string Algorithm = "AWS4-HMAC-SHA256";

    /// <summary>
    /// The canonical request: method, encoded path, sorted query, lower-case sorted headers with
    /// trimmed values (repeated names joined by commas), the signed header list and the payload hash.
    /// </summary>
    public static string CanonicalRequest(string method, string path, string query, IReadOnlyList<KeyValuePair<string, string>> headers, string payloadHash, out string signedHeaders)
    {
        var merged = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (name, value) in headers)
        {
            var key = name.Trim().ToLowerInvariant();
            if (!merged.TryGetValue(key, out var values))
            {
                merged[key] = values = [];
            }

            values.Add(CollapseSpaces(value));
        }

        var text = new StringBuilder();
        text.Append(method).Append('\n');
        text.Append(CanonicalPath(path)).Append('\n');
        text.Append(CanonicalQuery(query)).Append('\n');
        foreach (var (name, values) in merged)
        {
            text.Append(name).Append(':').AppendJoin(',', values).Append('\n');
        }

        text.Append('\n');
        signedHeaders = string.Join(';', merged.Keys);
        text.Append(signedHeaders).Append('\n');
        text.Append(payloadHash);
        return text.ToString();
    }

    /// <summary>The credential scope: <c>yyyyMMdd/region/service/aws4_request</c>.</summary>
    public static string Scope(DateTimeOffset time, string region, string service) =>
        $"{time.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture)}/{region}/{service}/aws4_request";

    /// <summary>The <c>X-Amz-Date</c> value: <c>yyyyMMddTHHmmssZ</c>.</summary>
    public static string AmzDate(DateTimeOffset time) => time.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);

    public static string StringToSign(DateTimeOffset time, string scope, string canonicalRequest) =>
        $"{Algorithm}\n{AmzDate(time)}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";

    /// <summary>kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").</summary>
    public static byte[] SigningKey(string secretAccessKey, DateTimeOffset time, string region, string service)
    {
        var date = HMACSHA256.HashData(Encoding.UTF8.GetBytes("AWS4" + secretAccessKey), Encoding.UTF8.GetBytes(time.UtcDateTime.ToString("yyyyMMdd", CultureInfo.InvariantCulture)));
        var regional = HMACSHA256.HashData(date, Encoding.UTF8.GetBytes(region));
        var serviced = HMACSHA256.HashData(regional, Encoding.UTF8.GetBytes(service));
        return HMACSHA256.HashData(serviced, "aws4_request"u8);
    }

    /// <summary>The <c>Authorization</c> header for a request whose headers already hold <c>host</c> and <c>x-amz-date</c>.</summary>
    public static string Authorization(
        AwsCredentials credentials, DateTimeOffset time, string region, string service,
        string method, string path, string query, IReadOnlyList<KeyValuePair<string, string>> headers, string payloadHash)
    {
        var canonical = CanonicalRequest(method, path, query, headers, payloadHash, out var signedHeaders);
        var scope = Scope(time, region, service);
        var toSign = StringToSign(time, scope, canonical);
        var signature = Hex(HMACSHA256.HashData(SigningKey(credentials.SecretAccessKey, time, region, service), Encoding.UTF8.GetBytes(toSign)));
        return $"{Algorithm} Credential={credentials.AccessKeyId}/{scope}, SignedHeaders={signedHeaders}, Signature={signature}";
    }

    public static string PayloadHash(ReadOnlySpan<byte> payload) => Hex(SHA256.HashData(payload));

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>Each path segment URI-encoded (RFC 3986 unreserved characters kept), slashes kept.</summary>
    public static string CanonicalPath(string path)
    {
        if (string.IsNullOrEmpty(path))
        {
            return "/";
        }

        var segments = path.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            segments[i] = Encode(segments[i]);
        }

        return string.Join('/', segments);
    }

    /// <summary>Parameters encoded and sorted by name, then value.</summary>
    public static string CanonicalQuery(string query)
    {
        if (string.IsNullOrEmpty(query))
        {
            return string.Empty;
        }

        var pairs = new List<(string Name, string Value)>();
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? part : part[..equals];
            var value = equals < 0 ? string.Empty : part[(equals + 1)..];
            pairs.Add((Encode(Uri.UnescapeDataString(name)), Encode(Uri.UnescapeDataString(value))));
        }

        pairs.Sort(static (a, b) =>
        {
            var byName = string.CompareOrdinal(a.Name, b.Name);
            return byName != 0 ? byName : string.CompareOrdinal(a.Value, b.Value);
        });
        var text = new StringBuilder();
        foreach (var (name, value) in pairs)
        {
            if (text.Length > 0)
            {
                text.Append('&');
            }

            text.Append(name).Append('=').Append(value);
        }

        return text.ToString();
    }

    private static string Encode(string text)
    {
        var result = new StringBuilder(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in text.EnumerateRunes())
        {
            if (rune.IsAscii && (char.IsAsciiLetterOrDigit((char)rune.Value) || rune.Value is '-' or '_' or '.' or '~'))
            {
                result.Append((char)rune.Value);
                continue;
            }

            var length = rune.EncodeToUtf8(utf8);
            for (var i = 0; i < length; i++)
            {
                result.Append('%').Append(utf8[i].ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return result.ToString();
    }

    private static string CollapseSpaces(string value)
    {
        var trimmed = value.Trim();
        var result = new StringBuilder(trimmed.Length);
        var space = false;
        foreach (var c in trimmed)
        {
            if (c == ' ')
            {
                if (!space)
                {
                    result.Append(c);
                }

                space = true;
            }
            else
            {
                result.Append(c);
                space = false;
            }
        }

        return result.ToString();
    }
}
