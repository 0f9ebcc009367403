using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Gateway.Demo;

/// <summary>The gateway's HTTP API as the demo uses it: JSON bodies, bearer credentials, answers as text.</summary>
internal static class Api
{
    public static HttpClient Client(Uri address, string? bearer = null, int connections = 8)
    {
        var client = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseProxy = false,
            UseCookies = false,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        })
        {
            BaseAddress = address,
            Timeout = TimeSpan.FromSeconds(30),
        };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    /// <summary>A JSON object of string, number and boolean members, with every value escaped properly.</summary>
    public static StringContent Json(params (string Name, object Value)[] members)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in members)
            {
                switch (value)
                {
                    case string text: writer.WriteString(name, text); break;
                    case int number: writer.WriteNumber(name, number); break;
                    case double number: writer.WriteNumber(name, number); break;
                    case bool flag: writer.WriteBoolean(name, flag); break;
                    default: throw new ArgumentException($"unsupported JSON value for {name}", nameof(members));
                }
            }

            writer.WriteEndObject();
        }

        return new StringContent(Encoding.UTF8.GetString(buffer.ToArray()), Encoding.UTF8, "application/json");
    }

    /// <summary>Sends a request and returns the status and the body as text.</summary>
    public static async Task<(HttpStatusCode Status, string Body)> SendAsync(HttpClient client, HttpMethod method, string path, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Sends a request that must succeed and returns its JSON answer.</summary>
    public static async Task<JsonElement> RequireAsync(HttpClient client, HttpMethod method, string path, HttpContent? content = null)
    {
        var (status, body) = await SendAsync(client, method, path, content);
        if ((int)status is < 200 or > 299)
        {
            throw new DemoFailure($"{method} {client.BaseAddress}{path.TrimStart('/')} answered {(int)status}: {body}");
        }

        return body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
    }

    /// <summary>Logs in; returns the access and refresh tokens.</summary>
    public static async Task<(string Access, string Refresh)> LoginAsync(Uri address, string username, string password)
    {
        using var client = Client(address);
        var json = await RequireAsync(client, HttpMethod.Post, "/v1/auth/login", Json(("username", username), ("password", password)));
        return (json.GetProperty("access_token").GetString()!, json.GetProperty("refresh_token").GetString()!);
    }

    /// <summary>The <c>error</c> of an error body, or the body itself.</summary>
    public static string ErrorOf(string body)
    {
        try
        {
            using var json = JsonDocument.Parse(body);
            return json.RootElement.TryGetProperty("error", out var error) ? error.GetString() ?? body : body;
        }
        catch (JsonException)
        {
            return body;
        }
    }
}

/// <summary>Something the demo expected did not happen; the message says what.</summary>
internal sealed class DemoFailure(string message) : Exception(message);

/// <summary>Prints to the console and, when asked, to a report file as well.</summary>
internal sealed class Output(string? path) : IDisposable
{
    private readonly StreamWriter? _file = path is null ? null : new StreamWriter(path, append: false) { AutoFlush = true };

    public void Line(string text = "")
    {
        Console.WriteLine(text);
        _file?.WriteLine(text);
    }

    public void Heading(string text) => Line($"\n== {text}");

    public void Dispose() => _file?.Dispose();
}
