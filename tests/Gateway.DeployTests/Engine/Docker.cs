using System.Globalization;

namespace Gateway.DeployTests.Engine;

/// <summary>
/// The Docker engine through its CLI, as an operator drives it. The engine is the one
/// <c>./build.sh test</c> starts (or one already running); the images are those of
/// <c>./build.sh image</c>.
/// </summary>
internal static class Docker
{
    /// <summary>The CPU image <c>./build.sh image</c> builds (IMAGE_NAME overrides the name as it does there).</summary>
    public static string CpuImage => (Environment.GetEnvironmentVariable("IMAGE_NAME") is { Length: > 0 } name ? name : "inference-gateway") + ":cpu";

    /// <summary>The image with the Torch backend.</summary>
    public static string CpuTorchImage => (Environment.GetEnvironmentVariable("IMAGE_NAME") is { Length: > 0 } name ? name : "inference-gateway") + ":cpu-torch";

    /// <summary>Runs <c>docker ARGS</c>; fails the test with its output unless it exits 0. Returns standard output, trimmed.</summary>
    public static async Task<string> RunAsync(params string[] args)
    {
        var (code, stdout, stderr) = await Shell.RunSplitAsync("docker", args);
        Assert.True(code == 0, $"docker {string.Join(' ', args)} exited {code}:\n{stdout}{stderr}");
        return stdout.Trim();
    }

    /// <summary>Runs <c>docker ARGS</c> and returns its exit code and whole output.</summary>
    public static async Task<(int ExitCode, string Output)> TryAsync(params string[] args)
    {
        var (code, stdout, stderr) = await Shell.RunSplitAsync("docker", args);
        return (code, stdout + stderr);
    }

    /// <summary>Fails with what to do when no engine answers or the image is missing.</summary>
    public static async Task RequireImageAsync(string image)
    {
        var (code, output) = await TryAsync("info", "--format", "{{.ServerVersion}}");
        Assert.True(code == 0, "no Docker engine answers (./build.sh test starts dockerd): " + output);
        (code, output) = await TryAsync("image", "inspect", "--format", "{{.Id}}", image);
        Assert.True(code == 0, $"the image {image} is missing: ./build.sh image (./build.sh test builds it first)\n{output}");
    }

    /// <summary><c>docker inspect -f FORMAT CONTAINER</c>.</summary>
    public static Task<string> InspectAsync(string container, string format) => RunAsync("inspect", "-f", format, container);

    /// <summary>The health check's status: starting, healthy, unhealthy, or none without a check.</summary>
    public static Task<string> HealthAsync(string container) =>
        InspectAsync(container, "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}");

    /// <summary>The container's main process as the host sees it (0 when it is not running).</summary>
    public static async Task<int> PidAsync(string container) =>
        int.Parse(await InspectAsync(container, "{{.State.Pid}}"), CultureInfo.InvariantCulture);

    /// <summary>How many times the restart policy has restarted the container.</summary>
    public static async Task<int> RestartCountAsync(string container) =>
        int.Parse(await InspectAsync(container, "{{.RestartCount}}"), CultureInfo.InvariantCulture);

    /// <summary>Waits until the container's health check reports healthy; fails with its last log lines otherwise.</summary>
    public static async Task WaitHealthyAsync(string container, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string health;
        while ((health = await HealthAsync(container)) != "healthy")
        {
            if (DateTime.UtcNow > deadline)
            {
                var (_, logs) = await TryAsync("logs", "--tail", "30", container);
                Assert.Fail($"{container} not healthy within {timeout.TotalSeconds:F0} s (health: {health}):\n{logs}");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>
    /// The compressed size of an image, as a registry stores it (deploy/images/compressed-size.py:
    /// each layer gzipped as docker push does).
    /// </summary>
    public static async Task<long> CompressedSizeAsync(string image)
    {
        var (code, stdout, stderr) = await Shell.RunSplitAsync("deploy/images/compressed-size.py", [image]);
        Assert.True(code == 0, stdout + stderr);
        return long.Parse(stdout.Trim(), CultureInfo.InvariantCulture);
    }

    /// <summary>The Uid line of a host process's status: real, effective, saved and filesystem ids.</summary>
    public static int[] ProcessUids(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(static l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return [.. line[4..].Split('\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(static v => int.Parse(v, CultureInfo.InvariantCulture))];
    }

    /// <summary>A model repository the containers' uid 65532 can read: copies of fixture models (no links).</summary>
    public static string CreateReadableRepository(params (string Name, string File)[] models)
    {
        var root = Directory.CreateTempSubdirectory("gateway-models-").FullName;
        foreach (var (name, file) in models)
        {
            var version = Path.Combine(root, name, "1");
            Directory.CreateDirectory(version);
            File.Copy(Gateway.Testing.ReferenceModels.ModelFile(Path.GetFileNameWithoutExtension(file), Path.GetExtension(file).TrimStart('.')), Path.Combine(version, "model" + Path.GetExtension(file)));
        }

        MakeReadable(root);
        return root;
    }

    /// <summary>Folders 0755 and files 0644 below <paramref name="root"/>: a temp folder is 0700.</summary>
    public static void MakeReadable(string root)
    {
        const UnixFileMode Folder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        File.SetUnixFileMode(root, Folder);
        foreach (var directory in Directory.EnumerateDirectories(root, "*", SearchOption.AllDirectories))
        {
            File.SetUnixFileMode(directory, Folder);
        }

        foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
        {
            File.SetUnixFileMode(file, Readable);
        }
    }
}
