using System.Net;
using System.Net.Sockets;

namespace Gateway.Testing;

/// <summary>A loopback port nobody listens on right now, as the kernel hands out ephemeral ports.</summary>
public static class FreePort
{
    /// <summary>
    /// Binds port 0 and releases it. Another process could take it before the caller binds it;
    /// the kernel hands out ephemeral ports in turn, so that is rare enough for tests.
    /// </summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
