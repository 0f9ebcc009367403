using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Gateway.Hosting;

/// <summary>
/// <c>gateway --probe [URL]</c>: one HTTP GET, exit code 0 on a 200 answer and 1 otherwise. For
/// container health checks in images without a shell or curl. It starts no host, so it costs a
/// few milliseconds.
/// </summary>
public static class Probe
{
    /// <summary>What is probed when no URL is given.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080/v2/health/ready";

    /// <summary>True when the arguments ask for a probe.</summary>
    public static bool IsRequested(string[] args) => args.Length > 0 && args[0] == "--probe";

    /// <summary>Runs the probe; returns the process exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(error);
        var text = args.Length > 1 ? args[1] : DefaultUrl;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "http")
        {
            await error.WriteLineAsync($"probe: '{text}' is not an http:// URL");
            return 2;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            using var client = new TcpClient();
            await client.ConnectAsync(uri.Host, uri.Port, timeout.Token);
            var stream = client.GetStream();
            var request = $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);
            var buffer = new byte[64];
            var read = 0;
            while (read < 12)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), timeout.Token);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            // "HTTP/1.1 200 ..."
            var status = read >= 12 && int.TryParse(Encoding.ASCII.GetString(buffer, 9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var code) ? code : 0;
            if (status == 200)
            {
                return 0;
            }

            await error.WriteLineAsync($"probe: {uri} answered {status}");
            return 1;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or IOException)
        {
            await error.WriteLineAsync($"probe: {uri}: {ex.Message}");
            return 1;
        }
    }
}
