using Gateway.Testing;

namespace Gateway.DeployTests;

/// <summary>
/// The deployment files against real validators: the Compose Specification's JSON schema,
/// actionlint for the workflow, and structural checks of the Kubernetes objects. Each validator
/// is also shown a broken file, so a validator that accepts anything fails here.
/// </summary>
public class ValidationTests
{
    private static string Validator => Path.Combine(ReferenceModels.RepositoryRoot, "deploy", "validate", "validate.mjs");

    private static async Task<(int Code, string Output)> ValidateAsync(string kind, params string[] files)
    {
        Assert.True(Directory.Exists(Path.Combine(ReferenceModels.RepositoryRoot, "deploy", "validate", "node_modules")),
            "run 'npm ci --prefix deploy/validate' (./build.sh test does)");
        return await Shell.RunAsync("node", [Validator, kind, .. files]);
    }

    [Fact]
    public async Task Compose_PassesTheComposeSpecification()
    {
        var (code, output) = await ValidateAsync("compose", "docker-compose.prod.yml");
        Assert.True(code == 0, output);
    }

    [Fact]
    public void Compose_EveryFileItMountsOrReads_IsInTheRepository()
    {
        var compose = File.ReadAllText(Path.Combine(ReferenceModels.RepositoryRoot, "docker-compose.prod.yml"));
        var paths = System.Text.RegularExpressions.Regex.Matches(compose, @"\./(deploy/[\w./-]+|Dockerfile\.aot)")
            .Select(m => m.Groups[1].Value.TrimEnd('.', ':'))
            .Distinct()
            .ToList();
        Assert.Contains("deploy/compose/otel-collector.yaml", paths);
        foreach (var path in paths)
        {
            var full = Path.Combine(ReferenceModels.RepositoryRoot, path.Split(':')[0]);
            Assert.True(File.Exists(full) || Directory.Exists(full), $"docker-compose.prod.yml refers to {path}, which does not exist");
        }
    }

    [Fact]
    public async Task BrokenCompose_IsCaught()
    {
        var broken = Path.Combine(Directory.CreateTempSubdirectory().FullName, "compose.yml");
        File.WriteAllText(broken, "services:\n  a:\n    image: x\n    depends_on:\n      b:\n        condition: when_ready\n    healthcheck:\n      interval: ten seconds\n");
        var (code, output) = await ValidateAsync("compose", broken);
        Assert.Equal(1, code);
        Assert.Contains("condition", output);
        Assert.Contains("duration", output);
    }

    [Fact]
    public async Task Workflow_PassesActionlint()
    {
        var (code, output) = await ValidateAsync("workflow", ".github/workflows/ci.yml");
        Assert.True(code == 0, output);
    }

    /// <summary>build.sh's dispatch has a case for <paramref name="verb"/> (one line, or its own block of options).</summary>
    private static void AssertVerb(string build, string verb) =>
        Assert.Matches(new System.Text.RegularExpressions.Regex($@"\n    {System.Text.RegularExpressions.Regex.Escape(verb)}\)[ \n]"), build);

    [Fact]
    public void Workflow_JobsAreThinCallsOfBuildVerbs_TheTestJobRunsInDebian12AsRoot_DeployWaitsForTheGate()
    {
        var root = ReferenceModels.RepositoryRoot;
        var workflow = File.ReadAllText(Path.Combine(root, ".github", "workflows", "ci.yml"));
        var build = File.ReadAllText(Path.Combine(root, "build.sh"));
        var jobs = System.Text.RegularExpressions.Regex.Split(workflow[workflow.IndexOf("\njobs:\n", StringComparison.Ordinal)..], @"\n  (?=[a-z-]+:\n)")
            .Skip(1).ToDictionary(static j => j[..j.IndexOf(':', StringComparison.Ordinal)], static j => j);
        var verbs = new Dictionary<string, string>
        {
            ["lint"] = "lint",
            ["test"] = "test",
            ["publish"] = "publish",
            ["gate"] = "gate",
            ["image"] = "image",
            ["deploy-demo"] = "deploy",
        };
        Assert.Equal(verbs.Keys.Order(), jobs.Keys.Order());
        foreach (var (job, verb) in verbs)
        {
            Assert.Contains($"run: ./build.sh {verb}", jobs[job]);
            AssertVerb(build, verb);
        }

        // Every ./build.sh call in the workflow is a verb build.sh has.
        foreach (System.Text.RegularExpressions.Match call in System.Text.RegularExpressions.Regex.Matches(workflow, @"\./build\.sh ([a-z-]+)"))
        {
            AssertVerb(build, call.Groups[1].Value);
        }

        Assert.Contains("container:\n      image: debian:bookworm\n      options: --privileged", jobs["test"]);
        foreach (var job in new[] { "lint", "publish", "gate" })
        {
            Assert.Contains("container: debian:bookworm", jobs[job]);
        }

        Assert.Contains("needs: [image, gate]", jobs["deploy-demo"]);
        Assert.Contains("needs: [lint, test, publish]", jobs["image"]);
        Assert.Equal("exec ./build.sh test", File.ReadAllLines(Path.Combine(root, ".ci", "run")).Last(static l => l.Length > 0));
    }

    [Fact]
    public async Task BrokenWorkflow_IsCaught()
    {
        var broken = Path.Combine(Directory.CreateTempSubdirectory().FullName, "broken.yml");
        File.WriteAllText(broken, "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope.nope }}\n        uses: actions/checkout@v4\n");
        var (code, _) = await ValidateAsync("workflow", broken);
        Assert.Equal(1, code);
    }

    [Fact]
    public async Task ObservabilityProfile_ConfigurationIsConsistent()
    {
        var (code, output) = await ValidateAsync("observability", "docker-compose.prod.yml");
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task BrokenObservabilityConfiguration_IsCaught()
    {
        var copy = Directory.CreateTempSubdirectory("gateway-observability-").FullName;
        try
        {
            var root = ReferenceModels.RepositoryRoot;
            File.Copy(Path.Combine(root, "docker-compose.prod.yml"), Path.Combine(copy, "docker-compose.prod.yml"));
            CopyDirectory(Path.Combine(root, "deploy", "compose"), Path.Combine(copy, "deploy", "compose"));
            var otel = Path.Combine(copy, "deploy", "compose", "otel-collector.yaml");
            File.WriteAllText(otel, File.ReadAllText(otel).Replace("processors: [memory_limiter, resource, batch]\n      exporters: [prometheusremotewrite]", "processors: [memory_limiter, resource, batching]\n      exporters: [prometheusremotewrite]", StringComparison.Ordinal));
            var sources = Path.Combine(copy, "deploy", "compose", "grafana", "provisioning", "datasources", "datasources.yaml");
            File.WriteAllText(sources, File.ReadAllText(sources).Replace("http://loki:3100", "http://logs:3100", StringComparison.Ordinal));
            var (code, output) = await ValidateAsync("observability", Path.Combine(copy, "docker-compose.prod.yml"));
            Assert.Equal(1, code);
            Assert.Contains("processor 'batching', which is not defined", output);
            Assert.Contains("no service 'logs'", output);
        }
        finally
        {
            Directory.Delete(copy, recursive: true);
        }

        static void CopyDirectory(string from, string to)
        {
            foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(to, Path.GetRelativePath(from, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
        }
    }

    [Fact]
    public async Task KubernetesManifests_AreWellFormed()
    {
        var files = Directory.GetFiles(Path.Combine(ReferenceModels.RepositoryRoot, "deploy", "k8s"), "*.yaml", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith("servingruntime.yaml", StringComparison.Ordinal));
        var (code, output) = await ValidateAsync("k8s", files);
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task BrokenDeployment_IsCaught()
    {
        var broken = Path.Combine(Directory.CreateTempSubdirectory().FullName, "deployment.yaml");
        File.WriteAllText(broken, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  selector:\n    matchLabels: {app: a}\n  template:\n    metadata:\n      labels: {app: b}\n    spec:\n      containers:\n        - name: c\n          image: i\n");
        var (code, output) = await ValidateAsync("k8s", broken);
        Assert.Equal(1, code);
        Assert.Contains("does not match the pod labels", output);
        Assert.Contains("has no readinessProbe", output);
    }
}
