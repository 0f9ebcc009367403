using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Gateway.Testing;

namespace Gateway.DeployTests.ScaleOut;

/// <summary>
/// Debian's nginx in the foreground as a child of the test, with its own configuration, pid file,
/// logs and temporary directories in a throwaway folder (the system's nginx service is never
/// touched). The server and upstream blocks are <c>deploy/nginx/gateway.conf</c> itself, with the
/// example's addresses replaced by the replicas' ports.
/// </summary>
internal sealed class NginxProcess : IAsyncDisposable
{
    /// <summary>The example file the test runs.</summary>
    public const string ExampleConfig = "deploy/nginx/gateway.conf";

    private static readonly string[] s_exampleUpstreams = ["server gateway-a:8080 ", "server gateway-b:8080 "];
    private const string ExampleListen = "listen 8080;";

    private readonly Process _process;
    private readonly string _directory;

    private NginxProcess(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Address = new Uri($"http://127.0.0.1:{port}");
    }

    public Uri Address { get; }

    /// <summary>nginx's error log: connection failures and the retries they caused.</summary>
    public string ErrorLog => ReadShared(Path.Combine(_directory, "error.log"));

    /// <summary>One line per request: <c>METHOD URI STATUS UPSTREAMS UPSTREAM_STATUSES</c>; a retried request lists two upstreams.</summary>
    public string[] AccessLog => ReadShared(Path.Combine(_directory, "access.log")).Split('\n', StringSplitOptions.RemoveEmptyEntries);

    public static async Task<NginxProcess> StartAsync(IReadOnlyList<int> replicaPorts)
    {
        Assert.Equal(s_exampleUpstreams.Length, replicaPorts.Count);
        var example = File.ReadAllText(Path.Combine(ReferenceModels.RepositoryRoot, ExampleConfig));
        var port = FreePort.Next();
        Assert.Contains(ExampleListen, example, StringComparison.Ordinal);
        var site = example.Replace(ExampleListen, $"listen 127.0.0.1:{port};", StringComparison.Ordinal);
        for (var i = 0; i < s_exampleUpstreams.Length; i++)
        {
            Assert.Contains(s_exampleUpstreams[i], example, StringComparison.Ordinal);
            site = site.Replace(s_exampleUpstreams[i], $"server 127.0.0.1:{replicaPorts[i]} ", StringComparison.Ordinal);
        }

        var directory = Directory.CreateTempSubdirectory("gateway-nginx-").FullName;
        // Run as root, nginx's workers drop to an unprivileged user that must reach the temp paths.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(directory, (UnixFileMode)Convert.ToInt32("755", 8));
        }

        File.WriteAllText(Path.Combine(directory, "gateway.conf"), site);
        File.WriteAllText(Path.Combine(directory, "nginx.conf"), string.Create(CultureInfo.InvariantCulture, $$"""
            worker_processes 1;
            daemon off;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 1024; }
            http {
                log_format upstreams '$request_method $uri $status $upstream_addr $upstream_status';
                access_log {{directory}}/access.log upstreams;
                client_body_temp_path {{directory}}/client_body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                include {{directory}}/gateway.conf;
            }
            """));

        var info = new ProcessStartInfo(FindNginx())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // -e: the error log before the configuration is read (the compiled-in one is /var/log/nginx).
        foreach (var arg in new[] { "-e", Path.Combine(directory, "error.log"), "-p", directory, "-c", Path.Combine(directory, "nginx.conf") })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start nginx");
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        var nginx = new NginxProcess(process, directory, port);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"nginx exited with {process.ExitCode}: {await stderr}\n{nginx.ErrorLog}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return nginx;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    private static string FindNginx()
    {
        foreach (var candidate in new[] { "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx" })
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("nginx is not installed: ./build.sh test installs Debian's nginx-light");
    }

    private static string ReadShared(string path)
    {
        if (!File.Exists(path))
        {
            return string.Empty;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGQUIT: nginx's graceful stop; its workers finish what they serve.
            _ = Kill(_process.Id, 3);
            try
            {
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (TimeoutException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
