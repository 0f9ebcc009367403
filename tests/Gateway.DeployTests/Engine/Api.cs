using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.DeployTests.Engine;

/// <summary>The gateway's HTTP API as the stack tests use it, through the published port.</summary>
internal static class Api
{
    public static HttpClient Client(Uri address, string? bearer = null) =>
        new(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(5) })
        {
            BaseAddress = address,
            Timeout = TimeSpan.FromSeconds(30),
            DefaultRequestHeaders = { Authorization = bearer is null ? null : new AuthenticationHeaderValue("Bearer", bearer) },
        };

    public static StringContent Json(object value) =>
        new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    /// <summary>An answer: status, body, and the Retry-After header when there is one.</summary>
    internal sealed record Answer(HttpStatusCode Status, string Body, string? RetryAfter)
    {
        public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();

        public override string ToString() => $"{(int)Status} {Body}";
    }

    public static async Task<Answer> SendAsync(HttpClient client, HttpMethod method, string path, object? body = null)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : Json(body) };
        using var response = await client.SendAsync(request);
        var retryAfter = response.Headers.RetryAfter?.ToString();
        return new Answer(response.StatusCode, await response.Content.ReadAsStringAsync(), retryAfter);
    }

    public static async Task<Answer> LoginAsync(Uri address, string username, string password)
    {
        using var client = Client(address);
        return await SendAsync(client, HttpMethod.Post, "/v1/auth/login", new Dictionary<string, string> { ["username"] = username, ["password"] = password });
    }

    /// <summary>Logs in and returns the access and refresh tokens; fails the test otherwise.</summary>
    public static async Task<(string Access, string Refresh)> RequireLoginAsync(Uri address, string username, string password)
    {
        var answer = await LoginAsync(address, username, password);
        Assert.True(answer.Status == HttpStatusCode.OK, $"login as {username}: {answer}");
        var json = answer.Json;
        return (json.GetProperty("access_token").GetString()!, json.GetProperty("refresh_token").GetString()!);
    }

    /// <summary>A user and an API key, written before a fault and looked for after it.</summary>
    internal sealed record Writes(string User, string Password, long KeyId, string Key);

    public static async Task<Writes> CreateUserAndKeyAsync(Uri address, string adminToken, string prefix)
    {
        using var admin = Client(address, adminToken);
        var user = $"{prefix}-{Guid.NewGuid():N}"[..30];
        var password = "pw-" + Guid.NewGuid().ToString("N");
        var created = await SendAsync(admin, HttpMethod.Post, "/v1/users", new Dictionary<string, string> { ["username"] = user, ["password"] = password, ["role"] = "worker" });
        Assert.True(created.Status == HttpStatusCode.Created, $"creating {user}: {created}");
        var key = await SendAsync(admin, HttpMethod.Post, "/v1/keys", new Dictionary<string, string> { ["name"] = user, ["role"] = "worker" });
        Assert.True(key.Status == HttpStatusCode.Created, $"creating a key for {user}: {key}");
        return new Writes(user, password, key.Json.GetProperty("id").GetInt64(), key.Json.GetProperty("key").GetString()!);
    }

    /// <summary>
    /// Which of the writes made before a fault are gone after it: the user must log in and the key
    /// must still read model metadata. Returns a description per lost write (none: nothing lost).
    /// </summary>
    public static async Task<List<string>> LostWritesAsync(Uri address, Writes writes)
    {
        var lost = new List<string>();
        var login = await LoginAsync(address, writes.User, writes.Password);
        if (login.Status != HttpStatusCode.OK)
        {
            lost.Add($"user {writes.User}: login answered {login}");
        }

        using var withKey = Client(address, writes.Key);
        var metadata = await SendAsync(withKey, HttpMethod.Get, "/v2/models/identity");
        if (metadata.Status != HttpStatusCode.OK)
        {
            lost.Add($"key {writes.KeyId}: GET /v2/models/identity answered {metadata}");
        }

        return lost;
    }

    /// <summary>The identity model's reference sample as a V2 JSON body, and its expected output.</summary>
    public static (string Body, double[] Expected) IdentityRequest()
    {
        var sample = ReferenceModels.Load("identity", 0);
        return (V2Requests.Json(sample), sample.Output.Values());
    }

    /// <summary>Runs the identity sample and checks the numbers that come back.</summary>
    public static async Task RequireIdentityInferenceAsync(HttpClient client)
    {
        var sample = ReferenceModels.Load("identity", 1);
        using var response = await client.PostAsync("/v2/models/identity/infer", new StringContent(V2Requests.Json(sample), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"inference: {(int)response.StatusCode} {text}");
        using var json = JsonDocument.Parse(text);
        Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), V2Requests.Data(V2Requests.Output(json, sample.OutputName))), 0, ReferenceModels.Tolerance);
    }
}
