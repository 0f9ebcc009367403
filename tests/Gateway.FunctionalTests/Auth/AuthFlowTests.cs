using System.Net;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Auth;

/// <summary>Logins, refresh rotation, logout, users and API keys through the real server, on each store.</summary>
public abstract class AuthFlowTests : IAsyncLifetime
{
    private string _repository = null!;

    protected GatewayServer Server { get; private set; } = null!;

    /// <summary>Arguments choosing the store.</summary>
    protected abstract Task<string[]> StoreArgumentsAsync();

    public async Task InitializeAsync()
    {
        _repository = ReferenceModels.CreateRepository("identity");
        string[] args = [.. await StoreArgumentsAsync(), "--RateLimit:LoginPerAccount:Failures", "1000", "--RateLimit:LoginPerAddress:Failures", "1000"];
        Server = await GatewayServer.StartAsync(_repository, args);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    [Fact]
    public async Task Login_AnswersTheTokenShape()
    {
        var tokens = await Server.LoginAsync("admin", GatewayServer.AdminPassword);
        Assert.Equal("Bearer", tokens.GetProperty("token_type").GetString());
        Assert.Equal(15 * 60, tokens.GetProperty("expires_in").GetInt32());
        Assert.Equal(3, tokens.GetProperty("access_token").GetString()!.Split('.').Length);
        Assert.StartsWith("rt_", tokens.GetProperty("refresh_token").GetString());

        using var payload = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(tokens.GetProperty("access_token").GetString()!.Split('.')[1]));
        foreach (var claim in new[] { "iss", "aud", "exp", "nbf", "jti", "sub", "role" })
        {
            Assert.True(payload.RootElement.TryGetProperty(claim, out _), $"claim {claim} missing");
        }

        Assert.Equal("admin", payload.RootElement.GetProperty("role").GetString());
    }

    [Fact]
    public async Task WrongPasswordAndUnknownUser_SameAnswer()
    {
        using var wrong = await Server.NewClient().PostAsync("/v1/auth/login", AuthApi.Json(new { username = "admin", password = "not-the-password" }));
        using var unknown = await Server.NewClient().PostAsync("/v1/auth/login", AuthApi.Json(new { username = "nobody", password = "not-the-password" }));
        Assert.Equal("invalid username or password", await AuthApi.ErrorAsync(wrong, HttpStatusCode.Unauthorized));
        Assert.Equal("invalid username or password", await AuthApi.ErrorAsync(unknown, HttpStatusCode.Unauthorized));
    }

    [Fact]
    public async Task Refresh_RotatesAndReuseRevokesTheFamily()
    {
        var (_, access, refresh) = await AuthApi.UserAsync(Server, "rotator", "worker");
        using var first = await Server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = refresh }));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var rotated = JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement;
        var newAccess = rotated.GetProperty("access_token").GetString()!;
        var newRefresh = rotated.GetProperty("refresh_token").GetString()!;
        Assert.NotEqual(refresh, newRefresh);
        using (var ok = await AuthApi.InferAsync(Server, newAccess))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        // The spent token comes back: someone else holds it. The whole family ends, including the newest tokens.
        using var reuse = await Server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = refresh }));
        Assert.Contains("reuse detected", await AuthApi.ErrorAsync(reuse, HttpStatusCode.Unauthorized));
        using var afterReuse = await Server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = newRefresh }));
        await AuthApi.ErrorAsync(afterReuse, HttpStatusCode.Unauthorized);
        using var revokedAccess = await AuthApi.InferAsync(Server, newAccess);
        Assert.Contains("revoked", await AuthApi.ErrorAsync(revokedAccess, HttpStatusCode.Unauthorized));
        using var firstAccess = await AuthApi.InferAsync(Server, access);
        await AuthApi.ErrorAsync(firstAccess, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task ConcurrentRefreshes_OnlyOneWins()
    {
        var (_, _, refresh) = await AuthApi.UserAsync(Server, "racer", "viewer");
        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            using var response = await Server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = refresh }));
            return response.StatusCode;
        }));
        Assert.True(answers.Count(s => s == HttpStatusCode.OK) <= 1, string.Join(",", answers));
        Assert.All(answers, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.Unauthorized));
    }

    [Fact]
    public async Task Logout_RevokesAccessAndRefresh()
    {
        var (_, access, refresh) = await AuthApi.UserAsync(Server, "leaver", "worker");
        using (var logout = await AuthApi.SendAsync(Server, HttpMethod.Post, "/v1/auth/logout", access, AuthApi.Json(new { refresh_token = refresh })))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        using var infer = await AuthApi.InferAsync(Server, access);
        Assert.Contains("revoked", await AuthApi.ErrorAsync(infer, HttpStatusCode.Unauthorized));
        using var refreshAfter = await Server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = refresh }));
        await AuthApi.ErrorAsync(refreshAfter, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task UserCrud_AndMe()
    {
        var id = await AuthApi.CreateUserAsync(Server, "crud", "user-passphrase-1", "viewer");
        using (var duplicate = await Server.Client.PostAsync("/v1/users", AuthApi.Json(new { username = "crud", password = "user-passphrase-1", role = "viewer" })))
        {
            Assert.Contains("already exists", await AuthApi.ErrorAsync(duplicate, HttpStatusCode.Conflict));
        }

        var user = JsonDocument.Parse(await Server.Client.GetStringAsync($"/v1/users/{id}")).RootElement;
        Assert.Equal("viewer", user.GetProperty("role").GetString());
        Assert.False(user.TryGetProperty("password_hash", out _));
        var list = await Server.Client.GetStringAsync("/v1/users");
        Assert.Contains("\"crud\"", list);
        Assert.DoesNotContain("$2", list); // no bcrypt hash ever leaves the server

        using (var patch = await Server.Client.PatchAsync($"/v1/users/{id}", AuthApi.Json(new { role = "supervisor" })))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        var tokens = await Server.LoginAsync("crud", "user-passphrase-1");
        using (var me = await AuthApi.GetAsync(Server, "/v1/users/me", tokens.GetProperty("access_token").GetString()))
        {
            var body = JsonDocument.Parse(await me.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("crud", body.GetProperty("username").GetString());
            Assert.Equal("supervisor", body.GetProperty("role").GetString());
        }

        using (var delete = await Server.Client.DeleteAsync($"/v1/users/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }

        using (var gone = await Server.Client.GetAsync($"/v1/users/{id}"))
        {
            await AuthApi.ErrorAsync(gone, HttpStatusCode.NotFound);
        }

        using var oldToken = await AuthApi.GetAsync(Server, "/v2", tokens.GetProperty("access_token").GetString());
        await AuthApi.ErrorAsync(oldToken, HttpStatusCode.Unauthorized);

        // The name is free again.
        await AuthApi.CreateUserAsync(Server, "crud", "user-passphrase-2", "viewer");
    }

    [Fact]
    public async Task DisablingAUser_RevokesItsSessionsAtOnce()
    {
        var (id, access, refresh) = await AuthApi.UserAsync(Server, "disabled-soon", "worker");
        using (var ok = await AuthApi.InferAsync(Server, access))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        using (var patch = await Server.Client.PatchAsync($"/v1/users/{id}", AuthApi.Json(new { disabled = true })))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        using var infer = await AuthApi.InferAsync(Server, access);
        await AuthApi.ErrorAsync(infer, HttpStatusCode.Unauthorized);
        using var refreshed = await Server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = refresh }));
        await AuthApi.ErrorAsync(refreshed, HttpStatusCode.Unauthorized);
        using var login = await Server.NewClient().PostAsync("/v1/auth/login", AuthApi.Json(new { username = "disabled-soon", password = "user-passphrase-1" }));
        Assert.Contains("disabled", await AuthApi.ErrorAsync(login, HttpStatusCode.Forbidden));
    }

    [Fact]
    public async Task ChangePassword_EndsSessionsAndTheNewOneWorks()
    {
        var (_, access, _) = await AuthApi.UserAsync(Server, "changer", "viewer");
        using (var wrong = await AuthApi.SendAsync(Server, HttpMethod.Post, "/v1/users/me/password", access,
            AuthApi.Json(new { current_password = "wrong-password", new_password = "another-passphrase" })))
        {
            await AuthApi.ErrorAsync(wrong, HttpStatusCode.Forbidden);
        }

        using (var change = await AuthApi.SendAsync(Server, HttpMethod.Post, "/v1/users/me/password", access,
            AuthApi.Json(new { current_password = "user-passphrase-1", new_password = "another-passphrase" })))
        {
            Assert.Equal(HttpStatusCode.NoContent, change.StatusCode);
        }

        using var old = await AuthApi.GetAsync(Server, "/v2", access);
        await AuthApi.ErrorAsync(old, HttpStatusCode.Unauthorized);
        await Server.LoginAsync("changer", "another-passphrase");
        await Assert.ThrowsAsync<InvalidOperationException>(() => Server.LoginAsync("changer", "user-passphrase-1"));
    }

    [Fact]
    public async Task ApiKeys_ShownOnce_UsableBothWays_Revocable()
    {
        var (id, key) = await AuthApi.KeyAsync(Server, "batch job", "worker");
        Assert.StartsWith("gk_", key);
        var list = await Server.Client.GetStringAsync("/v1/keys");
        Assert.Contains("batch job", list);
        // The secret is everything after "gk_<id>_"; base64url may itself hold '_' or '-', so never split on them.
        var secret = key[(key.IndexOf('_', 3) + 1)..];
        Assert.True(secret.Length >= 20, $"unexpected key format: {key}");
        Assert.DoesNotContain(secret, list);

        using (var bearer = await AuthApi.InferAsync(Server, key))
        {
            Assert.Equal(HttpStatusCode.OK, bearer.StatusCode);
        }

        using (var header = new HttpRequestMessage(HttpMethod.Post, "/v2/models/identity/infer") { Content = AuthApi.Raw(AuthApi.IdentityBody) })
        {
            header.Headers.Add("X-API-Key", key);
            using var response = await Server.NewClient().SendAsync(header);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var tooLow = await AuthApi.GetAsync(Server, "/v1/users", key))
        {
            await AuthApi.ErrorAsync(tooLow, HttpStatusCode.Forbidden);
        }

        using (var revoke = await Server.Client.DeleteAsync($"/v1/keys/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }

        using var revoked = await AuthApi.InferAsync(Server, key);
        Assert.Contains("revoked", await AuthApi.ErrorAsync(revoked, HttpStatusCode.Unauthorized));
        using var wrongSecret = await AuthApi.InferAsync(Server, $"gk_{id}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        await AuthApi.ErrorAsync(wrongSecret, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task LastAdmin_CannotBeDemotedOrDeleted()
    {
        var me = JsonDocument.Parse(await Server.Client.GetStringAsync("/v1/users/me")).RootElement.GetProperty("id").GetInt64();
        using var demote = await Server.Client.PatchAsync($"/v1/users/{me}", AuthApi.Json(new { role = "viewer" }));
        await AuthApi.ErrorAsync(demote, HttpStatusCode.Conflict);
        using var delete = await Server.Client.DeleteAsync($"/v1/users/{me}");
        await AuthApi.ErrorAsync(delete, HttpStatusCode.Conflict);
    }
}

public sealed class SqliteAuthFlowTests : AuthFlowTests
{
    protected override Task<string[]> StoreArgumentsAsync() => Task.FromResult(Array.Empty<string>());

    [Fact]
    public void Store_IsSqlite() => Assert.Equal("sqlite", Server.Services.GetService(typeof(Gateway.Storage.IAuthStore)) is Gateway.Storage.IAuthStore s ? s.Kind : null);
}

public sealed class PostgresAuthFlowTests : AuthFlowTests
{
    protected override async Task<string[]> StoreArgumentsAsync()
    {
        var database = await TestServices.CreatePostgresDatabaseAsync();

        // The password travels as its own secret, as in production, not inside the connection string.
        return ["--Storage:Postgres", TestServices.WithoutPassword(database), "--Storage:PostgresPassword", TestServices.PostgresPassword];
    }

    [Fact]
    public void Store_IsPostgres() => Assert.Equal("postgres", Server.Services.GetService(typeof(Gateway.Storage.IAuthStore)) is Gateway.Storage.IAuthStore s ? s.Kind : null);
}
