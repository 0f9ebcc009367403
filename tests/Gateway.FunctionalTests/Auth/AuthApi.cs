using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Gateway.FunctionalTests.Auth;

/// <summary>Small helpers over the auth API, as a client would call it.</summary>
internal static class AuthApi
{
    public static StringContent Json(object value) => new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    public static StringContent Raw(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>Creates a user through the admin client; returns its id.</summary>
    public static async Task<long> CreateUserAsync(GatewayServer server, string username, string password, string role)
    {
        using var response = await server.Client.PostAsync("/v1/users", Json(new { username, password, role }));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"creating {username}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("id").GetInt64();
    }

    /// <summary>Creates a user and logs in as it; returns the access and refresh tokens.</summary>
    public static async Task<(long Id, string Access, string Refresh)> UserAsync(GatewayServer server, string username, string role, string password = "user-passphrase-1")
    {
        var id = await CreateUserAsync(server, username, password, role);
        var tokens = await server.LoginAsync(username, password);
        return (id, tokens.GetProperty("access_token").GetString()!, tokens.GetProperty("refresh_token").GetString()!);
    }

    /// <summary>Creates an API key; returns its id and the key text.</summary>
    public static async Task<(long Id, string Key)> KeyAsync(GatewayServer server, string name, string role, object? rateLimit = null)
    {
        using var response = await server.Client.PostAsync("/v1/keys", Json(rateLimit is null ? new { name, role } : new { name, role, rate_limit = rateLimit }));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"creating key {name}: {(int)response.StatusCode} {text}");
        var json = JsonDocument.Parse(text).RootElement;
        return (json.GetProperty("id").GetInt64(), json.GetProperty("key").GetString()!);
    }

    public static async Task<HttpResponseMessage> SendAsync(GatewayServer server, HttpMethod method, string path, string? bearer, HttpContent? content = null)
    {
        using var client = server.NewClient();
        using var request = new HttpRequestMessage(method, path) { Content = content };
        if (bearer is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return await client.SendAsync(request);
    }

    public static Task<HttpResponseMessage> GetAsync(GatewayServer server, string path, string? bearer) => SendAsync(server, HttpMethod.Get, path, bearer);

    /// <summary>The <c>error</c> of a JSON error body, asserting the status.</summary>
    public static async Task<string> ErrorAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonDocument.Parse(text).RootElement.GetProperty("error").GetString()!;
    }

    public const string IdentityBody = """{"inputs":[{"name":"INPUT0","datatype":"FP32","shape":[1,16],"data":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}]}""";

    public static Task<HttpResponseMessage> InferAsync(GatewayServer server, string? bearer, string model = "identity") =>
        SendAsync(server, HttpMethod.Post, $"/v2/models/{model}/infer", bearer, Raw(IdentityBody));

    /// <summary>
    /// A client whose connections come from <paramref name="local"/> (any 127.x address is
    /// loopback on Linux): another client address as the gateway sees it.
    /// </summary>
    public static HttpClient ClientFrom(GatewayServer server, string local, string? bearer = null)
    {
        var client = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectCallback = async (context, cancellation) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse(local), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellation);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        {
            BaseAddress = server.Address,
            Timeout = TimeSpan.FromSeconds(60),
        };
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }

        return client;
    }

    public static Task<HttpResponseMessage> LoginFromAsync(HttpClient client, string username, string password) =>
        client.PostAsync("/v1/auth/login", Json(new { username, password }));
}
