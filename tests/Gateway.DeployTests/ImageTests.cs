using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gateway.Testing;

namespace Gateway.DeployTests;

/// <summary>
/// The CPU image, assembled without a Docker daemon from the same tree Dockerfile.aot's final
/// stage copies (deploy/image/rootfs.sh, then umoci), must be small and must serve: the packed
/// image is unpacked, started from its root filesystem in a chroot as its non-root user, and
/// answers readiness, its own probe and an authenticated inference.
/// </summary>
public sealed partial class ImageTests
{
    private const long MaxCompressedBytes = 60L * 1024 * 1024;

    [Fact]
    public async Task CpuImage_IsSmall_AndServesFromItsRootFilesystem()
    {
        Assert.True(Environment.UserName == "root", "building and running the image root filesystem needs root (chroot, mount)");
        var publish = Path.GetDirectoryName(GatewayBinary())!;
        var work = Directory.CreateTempSubdirectory("gateway-image-").FullName;
        try
        {
            var rootfs = Path.Combine(work, "rootfs");
            var layout = Path.Combine(work, "oci");
            var (code, output) = await Shell.RunAsync("deploy/image/rootfs.sh", [rootfs, publish]);
            Assert.True(code == 0, output);
            (code, output) = await Shell.RunAsync("deploy/image/build-oci.sh", [rootfs, layout, "cpu"]);
            Assert.True(code == 0, output);
            var size = long.Parse(CompressedSize().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(size, 5L * 1024 * 1024, MaxCompressedBytes);

            // skopeo reads the layout as any registry client would.
            (code, output) = await Shell.RunAsync("skopeo", ["inspect", $"oci:{layout}:cpu"]);
            Assert.True(code == 0, output);
            using (var inspect = JsonDocument.Parse(output))
            {
                Assert.Equal("amd64", inspect.RootElement.GetProperty("Architecture").GetString());
            }

            // Unpack the image (not the source tree) and run it.
            var bundle = Path.Combine(work, "bundle");
            (code, output) = await Shell.RunAsync("umoci", ["unpack", "--image", $"{layout}:cpu", bundle]);
            Assert.True(code == 0, output);
            var root = Path.Combine(bundle, "rootfs");
            using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(bundle, "config.json"))))
            {
                var process = config.RootElement.GetProperty("process");
                Assert.Equal(65532, process.GetProperty("user").GetProperty("uid").GetInt32());
                Assert.Equal("/app/gateway", process.GetProperty("args")[0].GetString());
            }

            Assert.False(File.Exists(Path.Combine(root, "bin", "sh")), "the runtime image must not ship a shell");
            var modelDirectory = Path.Combine(root, "models", "identity", "1");
            Directory.CreateDirectory(modelDirectory);
            File.Copy(ReferenceModels.ModelFile("identity"), Path.Combine(modelDirectory, "model.onnx"));
            // What a container runtime provides: /proc and a /dev with the standard nodes.
            (code, output) = await Shell.RunAsync("mount", ["-t", "proc", "proc", Path.Combine(root, "proc")]);
            Assert.True(code == 0, output);
            (code, output) = await Shell.RunAsync("mount", ["--bind", "/dev", Path.Combine(root, "dev")]);
            Assert.True(code == 0, output);
            try
            {
                await RunInChrootAsync(root);
            }
            finally
            {
                await Shell.RunAsync("umount", ["-l", Path.Combine(root, "dev")]);
                await Shell.RunAsync("umount", ["-l", Path.Combine(root, "proc")]);
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task RunInChrootAsync(string root)
    {
        var port = FreePort();
        var info = new ProcessStartInfo("chroot")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "--userspec=65532:65532", root, "/app/gateway", "--urls", $"http://127.0.0.1:{port}", "--model-repository", "/models" })
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["Auth__BootstrapAdminPassword"] = "image-test-password-1";
        info.Environment["Storage__SqlitePath"] = "/data/gateway.db";
        using var gateway = Process.Start(info)!;
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        var log = new Log(lines);
        gateway.OutputDataReceived += (_, e) => lines.Enqueue(e.Data);
        gateway.ErrorDataReceived += (_, e) => lines.Enqueue(e.Data);
        gateway.BeginOutputReadLine();
        gateway.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                Assert.False(gateway.HasExited, "the gateway exited:\n" + log);
                try
                {
                    using var ready = await client.GetAsync("/v2/health/ready");
                    if (ready.StatusCode == HttpStatusCode.OK)
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }

                Assert.True(DateTime.UtcNow < deadline, "not ready within 60 s:\n" + log);
                await Task.Delay(50);
            }

            // The HEALTHCHECK's probe, run inside the image.
            var (code, output) = await Shell.RunAsync("chroot", ["--userspec=65532:65532", root, "/app/gateway", "--probe", $"http://127.0.0.1:{port}/v2/health/ready"]);
            Assert.True(code == 0, output);

            using var login = await client.PostAsync("/v1/auth/login", new StringContent("""{"username":"admin","password":"image-test-password-1"}""", Encoding.UTF8, "application/json"));
            Assert.True(login.StatusCode == HttpStatusCode.OK, await login.Content.ReadAsStringAsync() + "\n" + log);
            using var tokens = JsonDocument.Parse(await login.Content.ReadAsStringAsync());
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", tokens.RootElement.GetProperty("access_token").GetString());

            var sample = ReferenceModels.Load("identity", 1);
            using var infer = await client.PostAsync("/v2/models/identity/infer", new StringContent(V2Requests.Json(sample), Encoding.UTF8, "application/json"));
            var text = await infer.Content.ReadAsStringAsync();
            Assert.True(infer.StatusCode == HttpStatusCode.OK, text);
            using var json = JsonDocument.Parse(text);
            Assert.InRange(ReferenceModels.MaxAbsDiff(sample.Output.Values(), V2Requests.Data(V2Requests.Output(json, sample.OutputName))), 0, ReferenceModels.Tolerance);
        }
        finally
        {
            if (!gateway.HasExited)
            {
                gateway.Kill(entireProcessTree: true);
                await gateway.WaitForExitAsync();
            }
        }
    }

    /// <summary>The process's output so far, formatted only when a message needs it.</summary>
    private sealed class Log(System.Collections.Concurrent.ConcurrentQueue<string?> lines)
    {
        public override string ToString() => string.Join('\n', lines);
    }

    private static string GatewayBinary()
    {
        var path = Environment.GetEnvironmentVariable("GATEWAY_BINARY");
        if (string.IsNullOrEmpty(path))
        {
            path = Path.Combine(ReferenceModels.RepositoryRoot, "artifacts", "publish", "gateway", "gateway");
        }

        Assert.True(File.Exists(path), $"{path} does not exist: run ./build.sh publish");
        return path;
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"compressed size: (\d+) bytes")]
    private static partial Regex CompressedSize();
}
