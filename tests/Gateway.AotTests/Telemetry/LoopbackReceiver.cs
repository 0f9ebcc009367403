using System.Collections.Concurrent;
using System.IO.Compression;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Gateway.AotTests.Telemetry;

/// <summary>
/// A real HTTP receiver on loopback (Kestrel) that keeps every POST body by path, gunzipped:
/// the peer the gateway's OTLP/HTTP exporter and Sentry transport send to in these tests.
/// </summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Path, byte[] Body)> _posts = new();

    private LoopbackReceiver(WebApplication app) => _app = app;

    public Uri Address { get; private set; } = null!;

    public static async Task<LoopbackReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new LoopbackReceiver(app);
        app.Run(receiver.ReceiveAsync);
        await app.StartAsync();
        receiver.Address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return receiver;
    }

    /// <summary>The bodies posted to <paramref name="path"/> so far.</summary>
    public IReadOnlyList<byte[]> Bodies(string path) => _posts.Where(p => p.Path == path).Select(p => p.Body).ToList();

    /// <summary>Polls until <paramref name="condition"/> holds or the time runs out; returns whether it held.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return condition();
    }

    private async Task ReceiveAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        Stream source = context.Request.Body;
        if (string.Equals(context.Request.Headers.ContentEncoding, "gzip", StringComparison.OrdinalIgnoreCase))
        {
            source = new GZipStream(source, CompressionMode.Decompress);
        }

        await source.CopyToAsync(body);
        _posts.Enqueue((context.Request.Path.Value ?? string.Empty, body.ToArray()));
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = context.Request.ContentType ?? "application/octet-stream";
        context.Response.ContentLength = 0;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
