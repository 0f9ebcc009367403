using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json;

namespace Gateway.Demo;

/// <summary>A seeded user: name, role and password (made here, never printed).</summary>
internal sealed record DemoUser(string Name, string Role, string Password);

/// <summary>
/// Seeds one user per role, then walks through what the stack does: logins, who may infer on
/// which model, the statistics each replica keeps, the same counts in Prometheus, and a logout on
/// one replica refused by the other. Every step checks what it shows and throws
/// <see cref="DemoFailure"/> when the stack does something else.
/// </summary>
internal sealed class Tour(DemoOptions options, Output output)
{
    private static readonly string[] s_roles = ["viewer", "worker", "supervisor", "admin"];
    private static readonly string[] s_rows = ["(no credential)", .. s_roles];
    private static readonly string[] s_queries =
    [
        "sum by (instance, model) (gateway_inference_requests_total{outcome=\"success\"})",
        "sum by (instance, reason) (gateway_rejected_requests_total) > 0",
        "sum by (model) (gateway_inference_batch_size_sum) / sum by (model) (gateway_inference_batch_size_count)",
    ];

    /// <summary>bert_tiny's config.json admits supervisors and admins only (scripts/demo.sh).</summary>
    private static readonly Dictionary<string, string[]> s_mayInfer = new(StringComparer.Ordinal)
    {
        ["identity"] = ["worker", "supervisor", "admin"],
        ["mobilenet_v2"] = ["worker", "supervisor", "admin"],
        ["bert_tiny"] = ["supervisor", "admin"],
    };

    private readonly Dictionary<string, DemoUser> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _tokens = new(StringComparer.Ordinal);
    private long _inferencesAnswered;

    public async Task SeedAsync()
    {
        output.Heading("seeding: one user per role (the admin exists from the bootstrap secret)");
        var (admin, _) = await Api.LoginAsync(options.Nginx, "admin", options.AdminPassword);
        using var client = Api.Client(options.Nginx, admin);
        _users["admin"] = new DemoUser("admin", "admin", options.AdminPassword);
        foreach (var role in s_roles[..3])
        {
            var user = new DemoUser($"demo-{role}", role, "demo-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant());
            var (status, body) = await Api.SendAsync(client, HttpMethod.Post, "/v1/users", Api.Json(("username", user.Name), ("password", user.Password), ("role", role)));
            if (status == HttpStatusCode.Conflict)
            {
                // A database kept from an earlier demo: give the user this run's password.
                var list = await Api.RequireAsync(client, HttpMethod.Get, "/v1/users");
                var id = (list.ValueKind == JsonValueKind.Array ? list : list.GetProperty("users")).EnumerateArray()
                    .First(u => u.GetProperty("username").GetString() == user.Name).GetProperty("id").GetInt64();
                await Api.RequireAsync(client, HttpMethod.Patch, $"/v1/users/{id}", Api.Json(("password", user.Password), ("role", role), ("disabled", false)));
            }
            else if (status != HttpStatusCode.Created)
            {
                throw new DemoFailure($"creating {user.Name} answered {(int)status}: {body}");
            }

            _users[role] = user;
            output.Line($"  {user.Name,-16} role {role}");
        }
    }

    public async Task RunAsync(InferRequest[] requests)
    {
        await LoginEachRoleAsync();
        await InferAsEachRoleAsync(requests);
        await BatchingAndStatsAsync(requests.First(static r => r.Model == "mobilenet_v2"));
        await PrometheusAsync();
        await LogoutAcrossReplicasAsync();
    }

    private async Task LoginEachRoleAsync()
    {
        output.Heading("1. log in as each role (POST /v1/auth/login through nginx)");
        output.Line($"  {"user",-16} {"role (GET /v1/users/me)",-24} access token expires in");
        foreach (var role in s_roles)
        {
            var user = _users[role];
            using var login = Api.Client(options.Nginx);
            var tokens = await Api.RequireAsync(login, HttpMethod.Post, "/v1/auth/login", Api.Json(("username", user.Name), ("password", user.Password)));
            var access = tokens.GetProperty("access_token").GetString()!;
            _tokens[role] = access;
            using var client = Api.Client(options.Nginx, access);
            var me = await Api.RequireAsync(client, HttpMethod.Get, "/v1/users/me");
            var shownRole = me.GetProperty("role").GetString();
            if (shownRole != role)
            {
                throw new DemoFailure($"{user.Name} logged in with role {shownRole}, expected {role}");
            }

            output.Line($"  {user.Name,-16} {shownRole,-24} {tokens.GetProperty("expires_in").GetInt32()} s");
        }

        using var wrong = Api.Client(options.Nginx);
        var (status, body) = await Api.SendAsync(wrong, HttpMethod.Post, "/v1/auth/login", Api.Json(("username", "demo-worker"), ("password", "not-the-password")));
        Expect(status, HttpStatusCode.Unauthorized, "a login with a wrong password");
        output.Line($"  a wrong password: {(int)status} \"{Api.ErrorOf(body)}\"");
    }

    private async Task InferAsEachRoleAsync(InferRequest[] requests)
    {
        output.Heading("2. infer as each role (POST /v2/models/{m}/infer through nginx): who may and who may not");
        output.Line($"  {string.Empty,-16} " + string.Join(' ', requests.Select(static r => $"{r.Label,-22}")));
        var refusals = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var role in s_rows)
        {
            var token = _tokens.GetValueOrDefault(role);
            using var client = Api.Client(options.Nginx, token);
            var cells = new List<string>();
            foreach (var request in requests)
            {
                using var message = request.Create();
                using var response = await client.SendAsync(message);
                var body = await response.Content.ReadAsStringAsync();
                var expected = token is null ? HttpStatusCode.Unauthorized
                    : s_mayInfer[request.Model].Contains(role) ? HttpStatusCode.OK
                    : HttpStatusCode.Forbidden;
                Expect(response.StatusCode, expected, $"{role} inferring on {request.Model}");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    _inferencesAnswered++;
                    cells.Add("200 ok");
                }
                else
                {
                    cells.Add($"{(int)response.StatusCode} refused");
                    refusals.TryAdd($"{(int)response.StatusCode} for {(token is null ? "no credential" : role)}{(role == "worker" ? " on " + request.Model : string.Empty)}", Api.ErrorOf(body));
                }
            }

            output.Line($"  {(token is null ? role : _users[role].Name),-16} " + string.Join(' ', cells.Select(static c => $"{c,-22}")));
        }

        output.Line("  the refusals say:");
        foreach (var (what, message) in refusals)
        {
            output.Line($"    {what}: \"{message}\"");
        }
    }

    private async Task BatchingAndStatsAsync(InferRequest mobilenet)
    {
        output.Heading("3. statistics: 16 concurrent images to mobilenet_v2 (dynamic batching), then GET /v2/models/stats on each replica");
        using (var worker = Api.Client(options.Nginx, _tokens["worker"], connections: 16))
        {
            var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
            {
                using var message = mobilenet.Create();
                using var response = await worker.SendAsync(message);
                return response.StatusCode;
            }));
            foreach (var status in answers)
            {
                Expect(status, HttpStatusCode.OK, "a concurrent mobilenet_v2 request");
                _inferencesAnswered++;
            }
        }

        output.Line($"  {"replica",-8} {"model",-14} {"inferences",10} {"executions",10}  executions by batch size");
        foreach (var replica in options.Replicas)
        {
            using var client = Api.Client(replica.Address, _tokens["supervisor"]);
            var stats = await Api.RequireAsync(client, HttpMethod.Get, "/v2/models/stats");
            foreach (var model in stats.GetProperty("model_stats").EnumerateArray())
            {
                var batches = string.Join(", ", model.GetProperty("batch_stats").EnumerateArray()
                    .Select(static b => $"{b.GetProperty("batch_size").GetInt32()}: {b.GetProperty("compute_infer").GetProperty("count").GetInt64()}"));
                output.Line(string.Create(CultureInfo.InvariantCulture,
                    $"  {replica.Name,-8} {model.GetProperty("name").GetString(),-14} {model.GetProperty("inference_count").GetInt64(),10} {model.GetProperty("execution_count").GetInt64(),10}  {batches}"));
            }
        }

        using var asWorker = Api.Client(options.Replicas[0].Address, _tokens["worker"]);
        var (status403, body) = await Api.SendAsync(asWorker, HttpMethod.Get, "/v2/models/stats");
        Expect(status403, HttpStatusCode.Forbidden, "a worker reading the statistics");
        output.Line($"  the worker asking for them: {(int)status403} \"{Api.ErrorOf(body)}\"");
    }

    private async Task PrometheusAsync()
    {
        output.Heading("4. the same in Prometheus (scraping both replicas' /metrics every 10 s)");
        using var prometheus = Api.Client(options.Prometheus);
        const string Total = "sum(gateway_inference_requests_total{outcome=\"success\"})";
        var clock = Stopwatch.StartNew();
        double seen;
        while ((seen = Scalar(await QueryAsync(prometheus, Total))) != _inferencesAnswered)
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new DemoFailure($"Prometheus counts {seen} successful inferences after 30 s; the tour had {_inferencesAnswered} answered");
            }

            await Task.Delay(500);
        }

        output.Line($"  {Total} = {seen} (the tour had {_inferencesAnswered} answered; seen after {clock.Elapsed.TotalSeconds:F1} s)");
        foreach (var query in s_queries)
        {
            output.Line($"  {query}");
            foreach (var series in (await QueryAsync(prometheus, query)).EnumerateArray())
            {
                var labels = string.Join(", ", series.GetProperty("metric").EnumerateObject().Select(static l => $"{l.Name}={l.Value.GetString()}"));
                output.Line($"    {{{labels}}} {series.GetProperty("value")[1].GetString()}");
            }
        }
    }

    private async Task LogoutAcrossReplicasAsync()
    {
        var a = options.Replicas[0];
        var b = options.Replicas[1];
        output.Heading($"5. log out on replica {a.Name}, the token refused on replica {b.Name} (straight to the replicas)");
        var worker = _users["worker"];
        var (access, refresh) = await Api.LoginAsync(a.Address, worker.Name, worker.Password);
        using var onB = Api.Client(b.Address, access);
        var (before, _) = await Api.SendAsync(onB, HttpMethod.Get, "/v2/models/identity");
        Expect(before, HttpStatusCode.OK, $"the token on replica {b.Name} before the logout");
        output.Line($"  {worker.Name} logged in on {a.Name}; GET /v2/models/identity on {b.Name}: {(int)before}");

        using var onA = Api.Client(a.Address, access);
        var (logout, logoutBody) = await Api.SendAsync(onA, HttpMethod.Post, "/v1/auth/logout", Api.Json(("refresh_token", refresh)));
        Expect(logout, HttpStatusCode.NoContent, "the logout");
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var (status, body) = await Api.SendAsync(onB, HttpMethod.Get, "/v2/models/identity");
            if (status == HttpStatusCode.Unauthorized)
            {
                output.Line(string.Create(CultureInfo.InvariantCulture, $"  POST /v1/auth/logout on {a.Name}: {(int)logout}{logoutBody}; {b.Name} refused the token {clock.Elapsed.TotalMilliseconds:F1} ms later: 401 \"{Api.ErrorOf(body)}\""));
                break;
            }

            Expect(status, HttpStatusCode.OK, $"the token on replica {b.Name} after the logout");
            if (clock.Elapsed > TimeSpan.FromSeconds(1))
            {
                throw new DemoFailure($"replica {b.Name} still accepted the token {clock.Elapsed.TotalMilliseconds:F0} ms after the logout on {a.Name}");
            }

            await Task.Delay(2);
        }

        using var refreshOnB = Api.Client(b.Address);
        var (refreshed, refreshBody) = await Api.SendAsync(refreshOnB, HttpMethod.Post, "/v1/auth/refresh", Api.Json(("refresh_token", refresh)));
        Expect(refreshed, HttpStatusCode.Unauthorized, "the session's refresh token after the logout");
        output.Line($"  its refresh token on {b.Name}: {(int)refreshed} \"{Api.ErrorOf(refreshBody)}\"");
    }

    private static async Task<JsonElement> QueryAsync(HttpClient prometheus, string query)
    {
        var json = await Api.RequireAsync(prometheus, HttpMethod.Get, "/api/v1/query?query=" + Uri.EscapeDataString(query));
        return json.GetProperty("data").GetProperty("result");
    }

    private static double Scalar(JsonElement result) =>
        result.GetArrayLength() == 0 ? 0 : double.Parse(result[0].GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture);

    private static void Expect(HttpStatusCode actual, HttpStatusCode expected, string what)
    {
        if (actual != expected)
        {
            throw new DemoFailure($"{what}: expected {(int)expected}, got {(int)actual}");
        }
    }
}
