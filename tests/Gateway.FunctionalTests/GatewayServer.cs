using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Gateway.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Gateway.FunctionalTests;

/// <summary>
/// The real gateway host on an ephemeral loopback port, with an <see cref="HttpClient"/> and the
/// log lines it wrote.
/// </summary>
public sealed class GatewayServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GatewayServer(WebApplication app, Uri address, LogCollector logs)
    {
        _app = app;
        Address = address;
        Logs = logs;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public LogCollector Logs { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<GatewayServer> StartAsync(string repository, params string[] args)
    {
        var logs = new LogCollector();
        string[] all = ["--urls", "http://127.0.0.1:0", "--model-repository", repository, "--Logging:LogLevel:Default", "Warning", .. args];
        var app = GatewayHost.Build(all, builder => builder.Logging.AddProvider(logs));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var server = new GatewayServer(app, new Uri(address), logs);
        await server.WaitReadyAsync(allowNotReady: args.Contains("--Gateway:StrictReadiness"));
        return server;
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
    }
}

/// <summary>Collects formatted log lines from the host.</summary>
public sealed class LogCollector : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCollector owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._lines.Enqueue($"{logLevel} {category}[{eventId.Id}] {formatter(state, exception)}");
    }
}
