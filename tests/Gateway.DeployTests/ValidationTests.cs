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

    [Fact]
    public async Task BrokenWorkflow_IsCaught()
    {
        var broken = Path.Combine(Directory.CreateTempSubdirectory().FullName, "broken.yml");
        File.WriteAllText(broken, "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope.nope }}\n        uses: actions/checkout@v4\n");
        var (code, _) = await ValidateAsync("workflow", broken);
        Assert.Equal(1, code);
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
