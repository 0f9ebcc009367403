using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Gateway.FuzzTests;

/// <summary>
/// The HTTP-level property, for a server in-process or the published binary: every request gets a
/// 2xx, or a 4xx whose body is <c>{"error": "..."}</c> (application/json); never a 5xx, never a
/// hang. Raw requests that break HTTP framing itself are refused by Kestrel before the gateway
/// sees them, with Kestrel's own empty body: for those only "no 5xx, an answer or a close" holds.
/// </summary>
internal sealed class HttpProperty(Uri address, string adminToken, string userToken, long userId)
{
    private readonly HttpClient _client = new() { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };

    public async Task<string> InferAsync(string model, byte[] body, string? headerLength)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(headerLength is null ? "application/json" : "application/octet-stream");
        if (headerLength is not null)
        {
            content.Headers.TryAddWithoutValidation("Inference-Header-Content-Length", headerLength);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v2/models/{Uri.EscapeDataString(model)}/infer") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        return await SendAsync(request);
    }

    public async Task<string> AuthAsync(string method, string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(new HttpMethod(method), path.Replace("{user}", userId.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)) { Content = content };
        if (!path.StartsWith("/v1/auth/", StringComparison.Ordinal) || path == "/v1/auth/logout")
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", path.StartsWith("/v1/users/me", StringComparison.Ordinal) || path == "/v1/auth/logout" ? userToken : adminToken);
        }

        return await SendAsync(request);
    }

    public async Task<string> BearerAsync(string token)
    {
        if (!Ascii.IsValid(token) || token.Any(static c => char.IsControl(c)))
        {
            // HttpClient refuses such a header value (or Kestrel refuses it as HTTP, without a body):
            // a client on a socket sends it all the same, judged as a raw request.
            var line = token.Replace("\r", string.Empty, StringComparison.Ordinal).Replace("\n", string.Empty, StringComparison.Ordinal);
            return await RawAsync([.. "GET /v2/models/identity HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer "u8, .. Encoding.UTF8.GetBytes(line), .. "\r\n\r\n"u8]);
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "/v2/models/identity");
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + token);
        return await SendAsync(request);
    }

    private async Task<string> SendAsync(HttpRequestMessage request)
    {
        using var response = await _client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return Judge((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, text);
    }

    /// <summary>The property for one answer; throws when it fails, else returns "status error".</summary>
    public static string Judge(int status, string? mediaType, string body)
    {
        if (status >= 500)
        {
            throw new InvalidOperationException($"answered {status}: {body}");
        }

        if (status < 400)
        {
            return status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (mediaType != "application/json")
        {
            throw new InvalidOperationException($"answered {status} as {mediaType ?? "no content type"}, not application/json: {body}");
        }

        using var json = JsonDocument.Parse(body);
        if (json.RootElement.ValueKind != JsonValueKind.Object
            || !json.RootElement.TryGetProperty("error", out var error)
            || error.ValueKind != JsonValueKind.String
            || string.IsNullOrWhiteSpace(error.GetString()))
        {
            throw new InvalidOperationException($"answered {status} without {{\"error\": \"...\"}}: {body}");
        }

        return $"{status} {error.GetString()}";
    }

    /// <summary>
    /// Sends a raw HTTP/1.1 request over its own connection and reads the answer until the server
    /// closes (every corpus request says Connection: close). Returns the status, or "closed" when the
    /// server closed without answering (Kestrel does for some framing errors).
    /// </summary>
    public async Task<string> RawAsync(byte[] request)
    {
        var text = request.AsSpan().IndexOf("{{TOKEN}}"u8) >= 0
            ? Encoding.Latin1.GetBytes(Encoding.Latin1.GetString(request).Replace("{{TOKEN}}", adminToken, StringComparison.Ordinal))
            : request;
        using var socket = new TcpClient();
        await socket.ConnectAsync(_client.BaseAddress!.Host, _client.BaseAddress.Port);
        var stream = socket.GetStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            // No half-close after writing: Kestrel reads that as the client going away (the request is
            // aborted, and counted as such); Connection: close ends the exchange instead.
            await stream.WriteAsync(text, timeout.Token);
        }
        catch (IOException)
        {
            // The server may answer and close before the whole request is written (oversized headers).
        }

        var answer = new MemoryStream();
        try
        {
            await stream.CopyToAsync(answer, timeout.Token);
        }
        catch (IOException)
        {
            // A reset after the answer: what arrived is judged.
        }

        var head = Encoding.Latin1.GetString(answer.ToArray());
        if (head.Length == 0)
        {
            return "closed";
        }

        var parts = head.Split(' ', 3);
        if (parts.Length < 2 || !int.TryParse(parts[1], out var status))
        {
            throw new InvalidOperationException("an answer that is not HTTP: " + head[..Math.Min(200, head.Length)]);
        }

        var split = head.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var body = split < 0 ? string.Empty : Encoding.UTF8.GetString(answer.ToArray().AsSpan(split + 4));
        var mediaType = head[..Math.Max(split, 0)].Split("\r\n").FirstOrDefault(static l => l.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))?
            .Split(':', 2)[1].Split(';')[0].Trim();
        if (status >= 500)
        {
            throw new InvalidOperationException($"answered {status}: {head[..Math.Min(500, head.Length)]}");
        }

        // Kestrel's own refusals of malformed HTTP (400, 413, 431) carry no body; the gateway's carry {"error"}.
        return body.Length == 0 && status >= 400 ? $"{status} (Kestrel, no body)" : Judge(status, mediaType, body);
    }
}
