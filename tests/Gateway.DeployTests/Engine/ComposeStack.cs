using System.Diagnostics;
using Gateway.Testing;

namespace Gateway.DeployTests.Engine;

/// <summary>
/// docker-compose.prod.yml, started as docs/RUNBOOK.md tells an operator to start it
/// (<c>deploy/compose/make-secrets.sh</c>, then <c>docker-compose -p NAME -f
/// docker-compose.prod.yml up -d</c>) with only the documented variables set: nginx and Prometheus
/// published on 127.0.0.1 at free ports, and a model repository of the test's own. The tests of
/// one collection share it (xUnit runs them one after another); each leaves it healthy. At the
/// end the containers' logs go to artifacts/deploy-tests/ and the stack is removed with its volumes.
/// </summary>
public sealed class ComposeStack : IAsyncLifetime
{
    /// <summary>The Compose project: its containers are NAME_SERVICE_1, its volumes NAME_VOLUME.</summary>
    public const string Project = "gateway-deploytests";

    /// <summary>Every service the stack starts here (the observability profile is not started).</summary>
    public static readonly string[] Services = ["gateway-a", "gateway-b", "nginx", "postgres", "redis", "prometheus", "blackbox-exporter"];

    private readonly Dictionary<string, string> _environment = new(StringComparer.Ordinal);

    /// <summary>The model repository mounted at /models (identity and add_sub, version 1 each).</summary>
    public string Models { get; private set; } = null!;

    /// <summary>nginx's published port on 127.0.0.1: the front door.</summary>
    public Uri Gateway { get; private set; } = null!;

    /// <summary>Prometheus's published port on 127.0.0.1.</summary>
    public Uri Prometheus { get; private set; } = null!;

    /// <summary>The bootstrap admin's password, from secrets/bootstrap_admin_password.</summary>
    public string AdminPassword { get; private set; } = null!;

    /// <summary>From <c>up -d</c> to every service healthy, on the first start.</summary>
    public TimeSpan UpToHealthy { get; private set; }

    /// <summary>The variables the compose commands run with.</summary>
    public IReadOnlyDictionary<string, string> Environment => _environment;

    public static string Container(string service) => $"{Project}_{service}_1";

    public async Task InitializeAsync()
    {
        await Docker.RequireImageAsync(Docker.CpuImage);
        Models = Docker.CreateReadableRepository(("identity", "identity.onnx"), ("add_sub", "add_sub.onnx"));
        _environment["COMPOSE_PROJECT_NAME"] = Project;
        _environment["COMPOSE_FILE"] = "docker-compose.prod.yml";
        _environment["GATEWAY_IMAGE"] = Docker.CpuImage;
        _environment["GATEWAY_ADDRESS"] = "127.0.0.1";
        // Empty: Docker picks a free port (the compose file's ${GATEWAY_PORT-8080}).
        _environment["GATEWAY_PORT"] = string.Empty;
        _environment["PROMETHEUS_PORT"] = string.Empty;
        _environment["GATEWAY_MODELS"] = Models;
        // A network of its own, beside an operator's stack (172.16.87) or the demo's (172.16.89).
        _environment["BACKEND_PREFIX"] = "172.16.88";

        // A stack left by an interrupted run goes first, volumes included.
        await ComposeAsync("down", "-v", "--remove-orphans");
        var (code, output) = await Shell.RunAsync("deploy/compose/make-secrets.sh", []);
        Assert.True(code == 0, output);
        AdminPassword = File.ReadAllText(Path.Combine(ReferenceModels.RepositoryRoot, "secrets", "bootstrap_admin_password")).Trim();

        var clock = Stopwatch.StartNew();
        await ComposeAsync("up", "-d");
        await WaitAllHealthyAsync(TimeSpan.FromSeconds(120));
        UpToHealthy = clock.Elapsed;
        await ResolvePortsAsync();
    }

    public async Task DisposeAsync()
    {
        var logs = Path.Combine(ReferenceModels.RepositoryRoot, "artifacts", "deploy-tests");
        Directory.CreateDirectory(logs);
        var (_, stdout, stderr) = await Shell.RunSplitAsync("docker-compose", ["logs", "--no-color", "--tail", "400"], _environment);
        await File.WriteAllTextAsync(Path.Combine(logs, "compose-stack.log"), stdout + stderr);
        await ComposeAsync("down", "-v", "--remove-orphans");
        if (Models is not null)
        {
            Directory.Delete(Models, recursive: true);
        }
    }

    /// <summary>Runs docker-compose with the stack's variables; fails the test unless it exits 0.</summary>
    public async Task<string> ComposeAsync(params string[] args) => await ComposeAsync(null, args);

    /// <summary>Runs docker-compose with the stack's variables and <paramref name="extra"/> on top.</summary>
    public async Task<string> ComposeAsync(IReadOnlyDictionary<string, string>? extra, params string[] args)
    {
        var environment = new Dictionary<string, string>(_environment, StringComparer.Ordinal);
        foreach (var (name, value) in extra ?? new Dictionary<string, string>())
        {
            environment[name] = value;
        }

        var (code, stdout, stderr) = await Shell.RunSplitAsync("docker-compose", args, environment, timeout: TimeSpan.FromMinutes(4));
        Assert.True(code == 0, $"docker-compose {string.Join(' ', args)} exited {code}:\n{stdout}{stderr}");
        return stdout;
    }

    /// <summary>Waits until every service's container runs and, where it has a health check, is healthy.</summary>
    public async Task WaitAllHealthyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var pending = new List<string>();
            foreach (var service in Services)
            {
                var (code, state) = await Docker.TryAsync("inspect", "-f", "{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}", Container(service));
                state = state.Trim();
                if (code != 0 || !(state == "running/healthy" || state == "running/none"))
                {
                    pending.Add($"{service}: {(code == 0 ? state : "no container")}");
                }
            }

            if (pending.Count == 0)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                var (_, stdout, stderr) = await Shell.RunSplitAsync("docker-compose", ["logs", "--no-color", "--tail", "30"], _environment);
                Assert.Fail($"not healthy within {timeout.TotalSeconds:F0} s: {string.Join(", ", pending)}\n{stdout}{stderr}");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>curl inside the nginx container (the backend network): reaches one replica directly.</summary>
    public static async Task<(int Status, string Body)> CurlAsync(string url, string? bearer = null, string method = "GET", string? body = null)
    {
        List<string> args = ["exec", Container("nginx"), "curl", "-sS", "-m", "10", "-X", method, "-w", "\n%{http_code}", "-H", "Content-Type: application/json"];
        if (bearer is not null)
        {
            args.AddRange(["-H", $"Authorization: Bearer {bearer}"]);
        }

        if (body is not null)
        {
            args.AddRange(["--data-binary", body]);
        }

        args.Add(url);
        var (code, output) = await Docker.TryAsync([.. args]);
        Assert.True(code == 0, $"curl {url} in the nginx container: {output}");
        var split = output.TrimEnd().LastIndexOf('\n');
        return (int.Parse(output.AsSpan(split + 1).Trim(), System.Globalization.CultureInfo.InvariantCulture), output[..Math.Max(0, split)]);
    }

    /// <summary>Reads where nginx and Prometheus were published (again after a recreate).</summary>
    public async Task ResolvePortsAsync()
    {
        Gateway = new Uri("http://" + (await ComposeAsync("port", "nginx", "8080")).Trim());
        Prometheus = new Uri("http://" + (await ComposeAsync("port", "prometheus", "9090")).Trim());
        Assert.Equal("127.0.0.1", Gateway.Host);
        Assert.Equal("127.0.0.1", Prometheus.Host);
    }
}

/// <summary>The tests that share one running <see cref="ComposeStack"/>.</summary>
[CollectionDefinition(Name)]
public sealed class ComposeStackCollection : ICollectionFixture<ComposeStack>
{
    public const string Name = "compose stack";
}
