using System.Reflection;
using Gateway.Testing;
using NetArchTest.Rules;

namespace Gateway.Tests.Architecture;

/// <summary>
/// The layers as the compiler and the IL see them: the csproj ProjectReference graph against
/// <see cref="Layers.Rules"/>, and each assembly's type dependencies (NetArchTest) against the
/// same rows, so a dependency that slips in some other way (a linked source file, a reference
/// added by a props file) fails too.
/// </summary>
public sealed class ArchitectureTests
{
    /// <summary>The rows by assembly name (a string, so each row is a test case of its own in listings and filters).</summary>
    public static TheoryData<string> Assemblies => [.. Layers.Rules.Select(r => r.Assembly)];

    [Fact]
    public void ProjectReferences_FollowTheLayerTable()
    {
        var violations = LayerChecker.Check(Layers.Rules, ProjectGraph.Read(ReferenceModels.RepositoryRoot));
        Assert.True(violations.Count == 0, string.Join('\n', violations));
    }

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void Assembly_DependsOnNoTypeOfAnAssemblyItMayNotReference(string assembly)
    {
        var rule = Layers.Rules.Single(r => r.Assembly == assembly);
        var failing = ForbiddenDependencies(Load(rule.Assembly), Forbidden(rule));
        Assert.True(failing.Count == 0, $"{rule.Assembly} depends on what its row does not allow:\n{string.Join('\n', failing)}");
    }

    [Fact]
    public void Checker_ReportsABackendThatReferencesTheHost_AndAbstractionsThatReferenceABackend()
    {
        var graph = new Dictionary<string, List<string>>
        {
            ["src/Abstractions/Gateway.Abstractions.csproj"] = ["src/Backends.Onnx/Gateway.Backends.Onnx.csproj"],
            ["src/Backends.Onnx/Gateway.Backends.Onnx.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj", "src/Gateway/Gateway.csproj"],
            ["src/Backends.Torch/Gateway.Backends.Torch.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj"],
            ["src/Gateway/Gateway.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj"],
            ["src/Scheduling/Gateway.Scheduling.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj"],
            ["src/Identity/Gateway.Identity.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj"],
        };
        Assert.Equal(
            [
                "Gateway.Abstractions (Abstractions) references Gateway.Backends.Onnx (Component): a layer may reference only the ones below it",
                "Gateway.Backends.Onnx (Component) references gateway (Host): a layer may reference only the ones below it",
            ],
            LayerChecker.Check(Layers.Rules, graph));
    }

    [Fact]
    public void Checker_ReportsABackendThatReferencesAnotherBackend_AndAProjectWithoutARow()
    {
        var graph = new Dictionary<string, List<string>>
        {
            ["src/Abstractions/Gateway.Abstractions.csproj"] = [],
            ["src/Backends.Onnx/Gateway.Backends.Onnx.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj"],
            ["src/Backends.Torch/Gateway.Backends.Torch.csproj"] = ["src/Backends.Onnx/Gateway.Backends.Onnx.csproj"],
            ["src/Gateway/Gateway.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj"],
            ["src/Scheduling/Gateway.Scheduling.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj"],
            ["src/Identity/Gateway.Identity.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj"],
            ["src/Extra/Gateway.Extra.csproj"] = ["src/Abstractions/Gateway.Abstractions.csproj"],
        };
        Assert.Equal(
            [
                "Gateway.Backends.Torch (Component) references Gateway.Backends.Onnx (Component): a layer may reference only the ones below it",
                "src/Extra/Gateway.Extra.csproj has no row in the layer table (Layers.Rules)",
            ],
            LayerChecker.Check(Layers.Rules, graph));
    }

    [Fact]
    public void Checker_ReportsAReferenceBelowThatTheRowDoesNotAllow_AndARowWithoutAProject()
    {
        LayerRule[] rules =
        [
            new("A", "src/A/A.csproj", Layer.Abstractions, []),
            new("B", "src/B/B.csproj", Layer.Abstractions, []),
            new("C", "src/C/C.csproj", Layer.Component, ["A"]),
            new("Missing", "src/Missing/Missing.csproj", Layer.Component, ["A"]),
        ];
        var graph = new Dictionary<string, List<string>>
        {
            ["src/A/A.csproj"] = [],
            ["src/B/B.csproj"] = [],
            ["src/C/C.csproj"] = ["src/A/A.csproj", "src/B/B.csproj"],
        };
        Assert.Equal(
            [
                "C references B, which its row does not allow (only A)",
                "the layer table names src/Missing/Missing.csproj, which does not exist",
            ],
            LayerChecker.Check(rules, graph));
    }

    [Fact]
    public void AssemblyCheck_FindsARealDependency()
    {
        // This test assembly uses the host's types (StoreHealthTests its stores): checked as if it were a backend, it must fail.
        var failing = ForbiddenDependencies(typeof(ArchitectureTests).Assembly, TypeNames(Load("gateway")).ToHashSet(StringComparer.Ordinal));
        Assert.Contains(failing, f => f.StartsWith(typeof(Storage.StoreHealthTests).FullName! + ":", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Assemblies))]
    public void ImageRestoreLayer_CopiesEveryProductProject(string assembly)
    {
        // Dockerfile.aot restores from the project files alone (a cached layer); a project left
        // out there fails the image's publish with "project.assets.json not found".
        var rule = Layers.Rules.Single(r => r.Assembly == assembly);
        var dockerfile = File.ReadAllLines(Path.Combine(ReferenceModels.RepositoryRoot, "Dockerfile.aot"));
        var folder = rule.Project[..(rule.Project.LastIndexOf('/') + 1)];
        Assert.Contains($"COPY {rule.Project} {folder}", dockerfile);
    }

    [Fact]
    public void LayerTable_NamesTheAssembliesTheProjectsBuild()
    {
        foreach (var rule in Layers.Rules)
        {
            Assert.Equal(rule.Assembly, Load(rule.Assembly).GetName().Name);
        }
    }

    /// <summary>The product types the rule's assembly must not use: every other row's, less those its own row allows.</summary>
    private static HashSet<string> Forbidden(LayerRule rule)
    {
        var allowed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in rule.MayReference.Append(rule.Assembly))
        {
            allowed.UnionWith(TypeNames(Load(name)));
        }

        var forbidden = new HashSet<string>(StringComparer.Ordinal);
        foreach (var other in Layers.Rules)
        {
            if (other.Assembly != rule.Assembly && !rule.MayReference.Contains(other.Assembly))
            {
                forbidden.UnionWith(TypeNames(Load(other.Assembly)));
            }
        }

        forbidden.ExceptWith(allowed);
        return forbidden;
    }

    /// <summary>The failing types with NetArchTest's explanation of why, one line each.</summary>
    private static List<string> ForbiddenDependencies(Assembly assembly, HashSet<string> forbidden)
    {
        if (forbidden.Count == 0)
        {
            return [];
        }

        var result = Types.InAssembly(assembly).ShouldNot().HaveDependencyOnAny([.. forbidden]).GetResult();
        return result.IsSuccessful ? [] : [.. result.FailingTypes.Select(t => $"{t.FullName}: {t.Explanation}")];
    }

    /// <summary>
    /// The assembly's own product types (namespace Gateway.*) by full name. Compiler-generated types
    /// (the same names in every assembly) are left out.
    /// </summary>
    private static IEnumerable<string> TypeNames(Assembly assembly) =>
        assembly.GetTypes()
            .Where(t => !t.IsNested && t.Namespace is { } ns && (ns == "Gateway" || ns.StartsWith("Gateway.", StringComparison.Ordinal)) && !t.Name.StartsWith('<'))
            .Select(t => t.FullName!.Split('`')[0]);

    private static Assembly Load(string name) => Assembly.Load(new AssemblyName(name));
}
