using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Auth;

/// <summary>
/// Attacks on the auth surface: forged and altered tokens (RFC 8725's list), SQL injection
/// through every field, oversized and malformed bodies, role escalation, and a check that no
/// password, token, key or secret ever reaches a log line.
/// </summary>
public sealed class SecurityTests : IAsyncLifetime
{
    private static readonly byte[] s_key = RandomNumberGenerator.GetBytes(32);
    private static readonly byte[] s_oldKey = RandomNumberGenerator.GetBytes(32);
    private readonly LogCollector _logs = new(Microsoft.Extensions.Logging.LogLevel.Trace);
    private GatewayServer _server = null!;
    private string _repository = null!;
    private long _workerId;
    private string _worker = null!;
    private string _workerRefresh = null!;

    private static string SigningKeys => $"current:{Base64Url.EncodeToString(s_key)},previous:{Base64Url.EncodeToString(s_oldKey)}";

    public async Task InitializeAsync()
    {
        _repository = ReferenceModels.CreateRepository("identity");
        _server = await GatewayServer.StartAsync(
            _repository, _logs, "--Auth:JwtSigningKeys", SigningKeys, "--Logging:LogLevel:Default", "Trace",

            // ASP.NET Core's own categories default to Warning (GatewayHost); this test reads them too.
            "--Logging:LogLevel:Microsoft.AspNetCore", "Trace",
            "--RateLimit:LoginPerAccount:Failures", "1000", "--RateLimit:LoginPerAddress:Failures", "1000");
        (_workerId, _worker, _workerRefresh) = await AuthApi.UserAsync(_server, "mallory", "worker");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_repository, recursive: true);
    }

    private static string Forge(object header, object payload, byte[]? key = null, string? signature = null)
    {
        var input = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(payload));
        signature ??= Base64Url.EncodeToString(HMACSHA256.HashData(key ?? s_key, Encoding.ASCII.GetBytes(input)));
        return input + "." + signature;
    }

    private object Claims(string iss = "inference-gateway", string aud = "inference-gateway", long? exp = null, long? nbf = null, string role = "admin", long? sub = null)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return new { iss, aud, sub = (sub ?? _workerId).ToString(System.Globalization.CultureInfo.InvariantCulture), name = "mallory", role, jti = Guid.NewGuid().ToString("N"), sid = "s", sv = 0, iat = now, nbf = nbf ?? now, exp = exp ?? now + 600 };
    }

    public static TheoryData<string> ForgedCases => new()
    {
        "alg none", "alg None", "alg HS384", "alg RS256", "no alg", "bad signature", "empty signature", "signature of another key",
        "wrong issuer", "wrong audience", "expired", "not yet valid", "unknown kid", "no kid", "crit header", "duplicate role claim",
        "two segments", "four segments", "garbage", "huge",
    };

    [Theory]
    [MemberData(nameof(ForgedCases))]
    public async Task ForgedOrAlteredToken_Is401(string attack)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var hs256 = new { alg = "HS256", typ = "JWT", kid = "current" };
        var token = attack switch
        {
            "alg none" => Forge(new { alg = "none", typ = "JWT", kid = "current" }, Claims(), signature: string.Empty),
            "alg None" => Forge(new { alg = "None", typ = "JWT", kid = "current" }, Claims()),
            "alg HS384" => Forge(new { alg = "HS384", typ = "JWT", kid = "current" }, Claims()),
            "alg RS256" => Forge(new { alg = "RS256", typ = "JWT", kid = "current" }, Claims()),
            "no alg" => Forge(new { typ = "JWT", kid = "current" }, Claims()),
            "bad signature" => Forge(hs256, Claims(), signature: Base64Url.EncodeToString(new byte[32])),
            "empty signature" => Forge(hs256, Claims(), signature: string.Empty),
            "signature of another key" => Forge(hs256, Claims(), RandomNumberGenerator.GetBytes(32)),
            "wrong issuer" => Forge(hs256, Claims(iss: "someone-else")),
            "wrong audience" => Forge(hs256, Claims(aud: "another-service")),
            "expired" => Forge(hs256, Claims(exp: now - 3600, nbf: now - 7200)),
            "not yet valid" => Forge(hs256, Claims(nbf: now + 3600, exp: now + 7200)),
            "unknown kid" => Forge(new { alg = "HS256", typ = "JWT", kid = "nope" }, Claims()),
            "no kid" => Forge(new { alg = "HS256", typ = "JWT" }, Claims()),
            "crit header" => Forge(new { alg = "HS256", typ = "JWT", kid = "current", crit = new[] { "exp" } }, Claims()),
            "duplicate role claim" => ForgeRaw("""{"alg":"HS256","typ":"JWT","kid":"current"}""",
                $$"""{"iss":"inference-gateway","aud":"inference-gateway","sub":"{{_workerId}}","name":"m","role":"viewer","role":"admin","jti":"x","sid":"s","sv":0,"nbf":{{now}},"exp":{{now + 600}}}"""),
            "two segments" => "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0",
            "four segments" => Forge(hs256, Claims()) + ".AAAA",
            "garbage" => "not a token at all",
            "huge" => new string('a', 5000) + "." + new string('b', 5000) + "." + new string('c', 50),
            _ => throw new ArgumentOutOfRangeException(nameof(attack)),
        };

        using var response = await AuthApi.GetAsync(_server, "/v1/users", token);
        await AuthApi.ErrorAsync(response, HttpStatusCode.Unauthorized);
        Assert.Contains("invalid_token", response.Headers.WwwAuthenticate.ToString());
    }

    private static string ForgeRaw(string header, string payload)
    {
        var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload));
        return input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(s_key, Encoding.ASCII.GetBytes(input)));
    }

    [Fact]
    public async Task CorrectlySignedToken_WithEitherKeyOfTheRing_IsAccepted()
    {
        // The control for the cases above: a token made the same way with the right key passes,
        // and so does one signed by the previous key (rotation keeps sessions alive).
        using var current = await AuthApi.GetAsync(_server, "/v1/users", Forge(new { alg = "HS256", typ = "JWT", kid = "current" }, Claims()));
        Assert.Equal(HttpStatusCode.OK, current.StatusCode);
        using var previous = await AuthApi.GetAsync(_server, "/v1/users", Forge(new { alg = "HS256", typ = "JWT", kid = "previous" }, Claims(), s_oldKey));
        Assert.Equal(HttpStatusCode.OK, previous.StatusCode);
    }

    /// <summary>
    /// RFC 8725 §3.10 and OWASP API7 (server-side request forgery): a token that names where its
    /// key is (<c>jku</c>, <c>x5u</c>) or carries its own (<c>jwk</c>) is checked against the
    /// configured keys only, so an attacker's key never verifies and the named URL is never fetched.
    /// </summary>
    [Fact]
    public async Task KeyUrlsAndEmbeddedKeys_AreNeverFollowed()
    {
        var attacker = RandomNumberGenerator.GetBytes(32);
        using var bait = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        bait.Start();
        var url = $"http://127.0.0.1:{((IPEndPoint)bait.LocalEndpoint).Port}/keys.json";
        var jwk = new { kty = "oct", kid = "current", k = Base64Url.EncodeToString(attacker) };
        foreach (var header in new object[]
        {
            new { alg = "HS256", typ = "JWT", kid = "current", jku = url },
            new { alg = "HS256", typ = "JWT", kid = "current", x5u = url },
            new { alg = "HS256", typ = "JWT", kid = "current", jwk },
            new { alg = "HS256", typ = "JWT", kid = "attacker", jku = url, jwk },
        })
        {
            using var response = await AuthApi.GetAsync(_server, "/v1/users", Forge(header, Claims(), attacker));
            await AuthApi.ErrorAsync(response, HttpStatusCode.Unauthorized);
        }

        Assert.False(bait.Pending(), "the gateway connected to the URL a token named");

        // The same headers with the configured key pass: they are ignored, not the cause of the refusal.
        using var ignored = await AuthApi.GetAsync(_server, "/v1/users", Forge(new { alg = "HS256", typ = "JWT", kid = "current", jku = url, jwk }, Claims()));
        Assert.Equal(HttpStatusCode.OK, ignored.StatusCode);
        Assert.False(bait.Pending());
    }

    [Fact]
    public async Task TamperedRoleClaim_Is401()
    {
        var parts = _worker.Split('.');
        var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1])).RootElement.GetRawText().Replace("\"worker\"", "\"admin\"");
        var tampered = parts[0] + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload)) + "." + parts[2];
        using var response = await AuthApi.GetAsync(_server, "/v1/users", tampered);
        Assert.Contains("signature", await AuthApi.ErrorAsync(response, HttpStatusCode.Unauthorized));
    }

    public static TheoryData<string> Injections => new()
    {
        "' OR '1'='1",
        "admin'--",
        "x'; DROP TABLE users; --",
        "\"; DELETE FROM refresh_tokens; --",
        "1; UPDATE users SET role='admin'",
        "admin\0",
        "%27%20OR%201=1",
        "$1",
        "@username",
    };

    [Theory]
    [MemberData(nameof(Injections))]
    public async Task SqlInjection_ThroughEveryField_IsInert(string evil)
    {
        var before = await _server.Client.GetStringAsync("/v1/users");
        var calls = new List<(string What, Func<Task<HttpResponseMessage>> Call)>
        {
            ("login username", () => _server.NewClient().PostAsync("/v1/auth/login", AuthApi.Json(new { username = evil, password = "x" }))),
            ("login password", () => _server.NewClient().PostAsync("/v1/auth/login", AuthApi.Json(new { username = "admin", password = evil }))),
            ("refresh token", () => _server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = "rt_" + evil }))),
            ("logout refresh token", async () =>
            {
                var tokens = await _server.LoginAsync("admin", GatewayServer.AdminPassword);
                return await AuthApi.SendAsync(_server, HttpMethod.Post, "/v1/auth/logout", tokens.GetProperty("access_token").GetString(), AuthApi.Json(new { refresh_token = evil }));
            }),
            ("create username", () => _server.Client.PostAsync("/v1/users", AuthApi.Json(new { username = evil, password = "long-enough-pass", role = "viewer" }))),
            ("create password", () => _server.Client.PostAsync("/v1/users", AuthApi.Json(new { username = "inj" + Math.Abs(evil.GetHashCode()), password = evil + "-padding-to-length", role = "viewer" }))),
            ("create role", () => _server.Client.PostAsync("/v1/users", AuthApi.Json(new { username = "inj-role", password = "long-enough-pass", role = evil }))),
            ("patch role", () => _server.Client.PatchAsync($"/v1/users/{_workerId}", AuthApi.Json(new { role = evil }))),
            ("user id in path", () => _server.Client.GetAsync("/v1/users/" + Uri.EscapeDataString(evil))),
            ("delete user id in path", () => _server.Client.DeleteAsync("/v1/users/" + Uri.EscapeDataString(evil))),
            ("key name", () => _server.Client.PostAsync("/v1/keys", AuthApi.Json(new { name = evil, role = "viewer" }))),
            ("key role", () => _server.Client.PostAsync("/v1/keys", AuthApi.Json(new { name = "k", role = evil }))),
            ("key id in path", () => _server.Client.DeleteAsync("/v1/keys/" + Uri.EscapeDataString(evil))),
            // HTTP forbids NUL in a header value, so the header cases carry the rest of the string.
            ("api key header", () => AuthApi.SendAsync(_server, HttpMethod.Get, "/v2", "gk_1_" + evil.Replace("\0", string.Empty))),
            ("api key id", () => AuthApi.SendAsync(_server, HttpMethod.Get, "/v2", "gk_" + evil.Replace("\0", string.Empty) + "_secret")),
            ("model name", () => _server.Client.GetAsync("/v2/models/" + Uri.EscapeDataString(evil))),
        };

        foreach (var (what, call) in calls)
        {
            using var response = await call();
            var status = (int)response.StatusCode;
            Assert.True(status < 500, $"{what}: {status} {await response.Content.ReadAsStringAsync()}");
            // These may succeed: the value is stored or compared literally, which is the point.
            if (what is not "create password" and not "create username" and not "key name" and not "logout refresh token")
            {
                Assert.True(status is 400 or 401 or 404 or 429, $"{what} with '{evil}' answered {status}");
            }
        }

        // Nothing changed but what was asked for literally: the users are the same, the admin still logs in, mallory is still a worker.
        var after = JsonDocument.Parse(await _server.Client.GetStringAsync("/v1/users")).RootElement.GetProperty("users");
        var beforeNames = JsonDocument.Parse(before).RootElement.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("username").GetString()).ToHashSet();
        Assert.All(beforeNames, name => Assert.Contains(after.EnumerateArray(), u => u.GetProperty("username").GetString() == name));
        Assert.Equal("worker", after.EnumerateArray().Single(u => u.GetProperty("username").GetString() == "mallory").GetProperty("role").GetString());
        await _server.LoginAsync("admin", GatewayServer.AdminPassword);
    }

    public static TheoryData<string, string, int, string> BadBodies => new()
    {
        { "/v1/auth/login", "", 400, "empty" },
        { "/v1/auth/login", "{", 400, "JSON" },
        { "/v1/auth/login", "[1,2]", 400, "JSON" },
        { "/v1/auth/login", "null", 400, "JSON object" },
        { "/v1/auth/login", """{"username":1,"password":2}""", 400, "$.username" },
        { "/v1/auth/login", """{"username":"admin","password":"x","role":"admin"}""", 400, "role" },
        { "/v1/auth/login", "{\"username\":" + new string('[', 100) + new string(']', 100) + "}", 400, "JSON" },
        { "/v1/auth/login", "\u00ff\u00fe not json", 400, "JSON" },
        { "/v1/auth/refresh", """{"refresh_token":{"$ne":null}}""", 400, "refresh_token" },
        { "/v1/users", """{"username":"u","password":"p"}""", 400, "password" },
        { "/v1/users", """{"username":"UPPER","password":"long-enough-pass","role":"viewer"}""", 400, "lower-case" },
        { "/v1/users", """{"username":"ok","password":"short","role":"viewer"}""", 400, "at least 8" },
        { "/v1/users", "{\"username\":\"ok\",\"password\":\"" + new string('é', 40) + "\",\"role\":\"viewer\"}", 400, "72 bytes" },
        { "/v1/users", """{"username":"ok","password":"long-enough-pass","role":"root"}""", 400, "role must be one of" },
        { "/v1/keys", """{"name":"k","role":"viewer","rate_limit":{"per_second":-1,"burst":1}}""", 400, "PerSecond" },
    };

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task MalformedBody_ClearError(string path, string body, int status, string message)
    {
        using var response = path == "/v1/auth/login" || path == "/v1/auth/refresh"
            ? await _server.NewClient().PostAsync(path, AuthApi.Raw(body))
            : await _server.Client.PostAsync(path, AuthApi.Raw(body));
        Assert.Contains(message, await AuthApi.ErrorAsync(response, (HttpStatusCode)status));
    }

    [Fact]
    public async Task OversizedBody_Is413_AndTheServerKeepsServing()
    {
        var huge = "{\"username\":\"" + new string('a', 100_000) + "\",\"password\":\"x\"}";
        using (var declared = await _server.NewClient().PostAsync("/v1/auth/login", AuthApi.Raw(huge)))
        {
            Assert.Contains("exceeds the limit", await AuthApi.ErrorAsync(declared, HttpStatusCode.RequestEntityTooLarge));
        }

        using (var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/users") { Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(huge))) })
        {
            chunked.Headers.TransferEncodingChunked = true;
            using var response = await _server.Client.SendAsync(chunked);
            await AuthApi.ErrorAsync(response, HttpStatusCode.RequestEntityTooLarge);
        }

        using var huge401 = await AuthApi.GetAsync(_server, "/v2", new string('x', 20_000));
        Assert.True((int)huge401.StatusCode is 401 or 431, $"{huge401.StatusCode}");
        await _server.LoginAsync("admin", GatewayServer.AdminPassword);
    }

    [Fact]
    public async Task RoleEscalation_ThroughUserUpdate_IsRefused()
    {
        // A worker may not touch users, not even itself.
        using (var self = await AuthApi.SendAsync(_server, HttpMethod.Patch, $"/v1/users/{_workerId}", _worker, AuthApi.Json(new { role = "admin" })))
        {
            await AuthApi.ErrorAsync(self, HttpStatusCode.Forbidden);
        }

        // Smuggling a role into the self-service password change is an unknown field.
        using (var smuggled = await AuthApi.SendAsync(_server, HttpMethod.Post, "/v1/users/me/password", _worker,
            AuthApi.Json(new { current_password = "user-passphrase-1", new_password = "user-passphrase-2", role = "admin" })))
        {
            Assert.Contains("role", await AuthApi.ErrorAsync(smuggled, HttpStatusCode.BadRequest));
        }

        // Creating a user or a key needs admin; a supervisor and a supervisor's API key both fail.
        var (_, supervisor, _) = await AuthApi.UserAsync(_server, "sup", "supervisor");
        using (var create = await AuthApi.SendAsync(_server, HttpMethod.Post, "/v1/users", supervisor, AuthApi.Json(new { username = "evil", password = "long-enough-pass", role = "admin" })))
        {
            await AuthApi.ErrorAsync(create, HttpStatusCode.Forbidden);
        }

        var (_, supervisorKey) = await AuthApi.KeyAsync(_server, "sup key", "supervisor");
        using (var keyCreate = await AuthApi.SendAsync(_server, HttpMethod.Post, "/v1/keys", supervisorKey, AuthApi.Json(new { name = "escalate", role = "admin" })))
        {
            await AuthApi.ErrorAsync(keyCreate, HttpStatusCode.Forbidden);
        }

        var me = JsonDocument.Parse(await (await AuthApi.GetAsync(_server, "/v1/users/me", _worker)).Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("worker", me.GetProperty("role").GetString());

        // When an admin demotes a user, tokens that still say the old role stop working at once.
        var (victimId, victim, _) = await AuthApi.UserAsync(_server, "demoted", "supervisor");
        using (var patch = await _server.Client.PatchAsync($"/v1/users/{victimId}", AuthApi.Json(new { role = "viewer" })))
        {
            Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        }

        using var stale = await AuthApi.GetAsync(_server, "/v2", victim);
        await AuthApi.ErrorAsync(stale, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task TwoCredentialsAtOnce_AreRefused()
    {
        var (_, key) = await AuthApi.KeyAsync(_server, "dual", "viewer");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v2");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", _worker);
        request.Headers.Add("X-API-Key", key);
        using var response = await _server.NewClient().SendAsync(request);
        Assert.Contains("exactly one credential", await AuthApi.ErrorAsync(response, HttpStatusCode.Unauthorized));
    }

    [Fact]
    public async Task NoPasswordTokenOrSecret_EverReachesALog()
    {
        // Exercise every path that handles a secret, then read every log line written so far (Trace level).
        var secrets = new List<string> { GatewayServer.AdminPassword, "user-passphrase-1", _worker, _workerRefresh, Base64Url.EncodeToString(s_key), Base64Url.EncodeToString(s_oldKey) };
        var (_, key) = await AuthApi.KeyAsync(_server, "logged?", "worker");
        secrets.Add(key);
        // The secret is everything after "gk_<id>_"; it is base64url, so it may itself hold '_'
        // (splitting on '_' could yield a fragment as short as "", which every line contains).
        secrets.Add(key[(key.IndexOf('_', "gk_".Length) + 1)..]);
        var tokens = await _server.LoginAsync("mallory", "user-passphrase-1");
        secrets.Add(tokens.GetProperty("access_token").GetString()!);
        secrets.Add(tokens.GetProperty("refresh_token").GetString()!);
        (await _server.NewClient().PostAsync("/v1/auth/login", AuthApi.Json(new { username = "mallory", password = "wrong-password-guess" }))).Dispose();
        secrets.Add("wrong-password-guess");
        (await _server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = tokens.GetProperty("refresh_token").GetString() }))).Dispose();
        (await _server.NewClient().PostAsync("/v1/auth/refresh", AuthApi.Json(new { refresh_token = tokens.GetProperty("refresh_token").GetString() }))).Dispose();
        (await AuthApi.InferAsync(_server, key)).Dispose();
        (await AuthApi.GetAsync(_server, "/v2", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.forged-secret-ish")).Dispose();
        secrets.Add("forged-secret-ish");
        (await _server.Client.PostAsync("/v1/users", AuthApi.Json(new { username = "newbie", password = "newbie-secret-pass", role = "viewer" }))).Dispose();
        secrets.Add("newbie-secret-pass");

        Assert.All(secrets, secret => Assert.True(secret.Length >= 8, $"'{secret}' is too short to search for"));
        var lines = _logs.Lines.ToArray();
        Assert.True(lines.Length > 20, $"only {lines.Length} log lines were captured; the check would prove nothing");
        foreach (var secret in secrets)
        {
            var leaked = lines.FirstOrDefault(line => line.Contains(secret, StringComparison.Ordinal));
            Assert.True(leaked is null, $"a secret appeared in a log line: {leaked}");
        }
    }
}
