using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Gateway.Testing;

namespace Gateway.AotTests;

/// <summary>The published gateway binary running as a child process on a free loopback port.</summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private GatewayProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public Process Process => _process;

    /// <summary>The bootstrap admin's password in every process started here.</summary>
    public const string AdminPassword = "aot-test-admin-passphrase";

    /// <summary>The binary under test; fails clearly when it has not been published.</summary>
    public static string BinaryPath
    {
        get
        {
            var path = Environment.GetEnvironmentVariable("GATEWAY_BINARY");
            if (string.IsNullOrEmpty(path))
            {
                path = Path.Combine(ReferenceModels.RepositoryRoot, "artifacts", "publish", "gateway", "gateway");
            }

            Assert.True(File.Exists(path), $"the AOT binary {path} does not exist: run ./build.sh publish (./build.sh test does)");
            return path;
        }
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static GatewayProcess Start(string repository, params string[] args)
    {
        var port = FreePort();
        var info = new ProcessStartInfo(BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--urls", $"http://127.0.0.1:{port}", "--model-repository", repository }.Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        // Each process gets its own user store and the bootstrap admin the tests log in as.
        info.Environment["Auth__BootstrapAdminPassword"] = AdminPassword;
        info.Environment["Storage__SqlitePath"] = Path.Combine(Directory.CreateTempSubdirectory("gateway-aot-data-").FullName, "gateway.db");
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + BinaryPath);
        return new GatewayProcess(process, new Uri($"http://127.0.0.1:{port}"));
    }

    /// <summary>Polls readiness; returns the time from process start to the first 200.</summary>
    public async Task<TimeSpan> WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(_process.HasExited, "the gateway exited early:\n" + Output);
            try
            {
                using var response = await Client.GetAsync("/v2/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    var elapsed = DateTime.Now - _process.StartTime;
                    await LoginAsync();
                    return elapsed;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(5);
        }

        throw new TimeoutException("the gateway did not become ready:\n" + Output);
    }

    /// <summary>Logs in as the bootstrap admin; later requests carry the access token.</summary>
    public async Task LoginAsync()
    {
        using var login = await Client.PostAsync(
            "/v1/auth/login",
            new StringContent($$"""{"username":"admin","password":"{{AdminPassword}}"}""", Encoding.UTF8, "application/json"));
        var text = await login.Content.ReadAsStringAsync();
        Assert.True(login.IsSuccessStatusCode, "login failed: " + text);
        using var json = System.Text.Json.JsonDocument.Parse(text);
        Client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", json.RootElement.GetProperty("access_token").GetString());
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
