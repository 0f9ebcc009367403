using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.FunctionalTests;

/// <summary>
/// The real gateway host on an ephemeral loopback port, with an <see cref="HttpClient"/> that is
/// logged in as the bootstrap admin (auth stays on, as in production), and the log lines it wrote.
/// Each server has its own SQLite file unless the arguments name another store.
/// </summary>
public sealed class GatewayServer : IAsyncDisposable
{
    /// <summary>The bootstrap admin's password in every test server.</summary>
    public const string AdminPassword = "test-admin-passphrase";

    private readonly WebApplication _app;
    private readonly string _dataDirectory;

    private GatewayServer(WebApplication app, Uri address, LogCollector logs, string dataDirectory)
    {
        _app = app;
        _dataDirectory = dataDirectory;
        Address = address;
        Logs = logs;
        Client = NewClient();
    }

    public Uri Address { get; }

    /// <summary>Sends the admin's access token on every request.</summary>
    public HttpClient Client { get; }

    public LogCollector Logs { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The admin's current tokens (from the login at start).</summary>
    public string AccessToken { get; private set; } = string.Empty;

    public string RefreshToken { get; private set; } = string.Empty;

    public static Task<GatewayServer> StartAsync(string repository, params string[] args) => StartAsync(repository, new LogCollector(), args);

    /// <summary>
    /// Starts a server. <c>--Auth:BootstrapAdminPassword</c> in <paramref name="args"/> replaces the
    /// default (an empty value starts without one, and without logging in); <c>--allow-not-ready</c>
    /// returns before readiness.
    /// </summary>
    public static async Task<GatewayServer> StartAsync(string repository, LogCollector logs, params string[] args)
    {
        var data = Path.Combine(Path.GetTempPath(), "gateway-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(data);
        string[] all =
        [
            "--urls", "http://127.0.0.1:0", "--model-repository", repository, "--Logging:LogLevel:Default", "Warning",
            // The lowest BCrypt cost keeps logins fast in tests; production uses 12.
            "--Auth:BcryptWorkFactor", "4",
            "--Storage:SqlitePath", Path.Combine(data, "gateway.db"),
            "--Secrets:Directory", Path.Combine(data, "secrets"),
            .. (args.Contains("--Auth:BootstrapAdminPassword") ? [] : new[] { "--Auth:BootstrapAdminPassword", AdminPassword }),
            .. args.Where(static a => a != "--allow-not-ready"),
        ];
        var app = GatewayHost.Build(all, builder => builder.Logging.AddProvider(logs));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var server = new GatewayServer(app, new Uri(address), logs, data);
        await server.WaitReadyAsync(allowNotReady: args.Contains("--Gateway:StrictReadiness") || args.Contains("--allow-not-ready"));
        var bootstrap = Array.IndexOf(all, "--Auth:BootstrapAdminPassword");
        if (!args.Contains("--Auth:Mode") && all[bootstrap + 1] == AdminPassword && !args.Contains("--allow-not-ready"))
        {
            await server.LoginAsAdminAsync();
        }

        return server;
    }

    /// <summary>A client without credentials.</summary>
    public HttpClient NewClient() => new() { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>A client that sends the given bearer credential (access token or API key).</summary>
    public HttpClient NewClient(string bearer)
    {
        var client = NewClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    /// <summary>Logs in and returns the token response's JSON.</summary>
    public async Task<JsonElement> LoginAsync(string username, string password)
    {
        using var client = NewClient();
        using var response = await client.PostAsync(
            "/v1/auth/login", new StringContent(JsonSerializer.Serialize(new { username, password }), Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"login as {username} failed: {(int)response.StatusCode} {text}");
        }

        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task LoginAsAdminAsync()
    {
        var tokens = await LoginAsync("admin", AdminPassword);
        AccessToken = tokens.GetProperty("access_token").GetString()!;
        RefreshToken = tokens.GetProperty("refresh_token").GetString()!;
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AccessToken);
    }

    /// <summary>Waits until the start-up load has finished (readiness, or a not-ready reason that is not "loading").</summary>
    private async Task WaitReadyAsync(bool allowNotReady)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            using var response = await Client.GetAsync("/v2/health/ready");
            if (response.IsSuccessStatusCode)
            {
                return;
            }

            if (allowNotReady && !(await response.Content.ReadAsStringAsync()).Contains("loading"))
            {
                return;
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("the gateway did not become ready within 60 s");
    }

    public Task<HttpResponseMessage> PostJsonAsync(string path, string json) =>
        Client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>Posts a binary-extension request: JSON header followed by raw tensor bytes.</summary>
    public Task<HttpResponseMessage> PostBinaryAsync(string path, string json, params byte[][] tensors)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var body = new MemoryStream();
        body.Write(header);
        foreach (var tensor in tensors)
        {
            body.Write(tensor);
        }

        var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        content.Headers.Add("Inference-Header-Content-Length", header.Length.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Client.PostAsync(path, content);
    }

    /// <summary>Splits a response into its JSON part and the binary part that follows it.</summary>
    public static async Task<(JsonDocument Json, byte[] Binary)> ReadInferResponseAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsByteArrayAsync();
        var headerLength = body.Length;
        if (response.Headers.TryGetValues("Inference-Header-Content-Length", out var values)
            || response.Content.Headers.TryGetValues("Inference-Header-Content-Length", out values))
        {
            headerLength = int.Parse(values.First(), System.Globalization.CultureInfo.InvariantCulture);
        }

        return (JsonDocument.Parse(body.AsMemory(0, headerLength)), body[headerLength..]);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
            // A pooled SQLite handle may linger a moment; the temp directory is cleaned by the OS.
        }
    }
}

/// <summary>Collects formatted log lines from the host, from <paramref name="minimum"/> up.</summary>
public sealed class LogCollector(LogLevel minimum = LogLevel.Information) : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public LogLevel Minimum => minimum;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.Minimum;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)}{(exception is null ? string.Empty : " " + exception)}");
    }
}
