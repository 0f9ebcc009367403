using System.Xml.Linq;

namespace Gateway.Tests.Architecture;

/// <summary>The project references of the product's csproj files, read from the files themselves.</summary>
public static class ProjectGraph
{
    /// <summary>Every project under src/ (relative path, '/' separated) and the projects it references.</summary>
    public static Dictionary<string, List<string>> Read(string repositoryRoot)
    {
        var graph = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(repositoryRoot, "src"), "*.csproj", SearchOption.AllDirectories))
        {
            var references = new List<string>();
            // Every ProjectReference counts, conditional ones too (a backend can be left out of a build, not out of the rules).
            foreach (var item in XDocument.Load(file).Descendants("ProjectReference"))
            {
                var target = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(file)!, item.Attribute("Include")!.Value.Replace('\\', '/')));
                references.Add(Relative(repositoryRoot, target));
            }

            graph[Relative(repositoryRoot, file)] = references;
        }

        return graph;
    }

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');
}

/// <summary>Checks a project graph against the layer table; returns one line per broken rule.</summary>
public static class LayerChecker
{
    public static List<string> Check(IReadOnlyList<LayerRule> rules, IReadOnlyDictionary<string, List<string>> graph)
    {
        var byProject = rules.ToDictionary(r => r.Project, StringComparer.Ordinal);
        var violations = new List<string>();
        foreach (var (project, references) in graph.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (!byProject.TryGetValue(project, out var rule))
            {
                violations.Add($"{project} has no row in the layer table (Layers.Rules)");
                continue;
            }

            foreach (var reference in references)
            {
                if (!byProject.TryGetValue(reference, out var target))
                {
                    violations.Add($"{rule.Assembly} references {reference}, which has no row in the layer table");
                    continue;
                }

                if (target.Layer >= rule.Layer)
                {
                    violations.Add($"{rule.Assembly} ({rule.Layer}) references {target.Assembly} ({target.Layer}): a layer may reference only the ones below it");
                }
                else if (!rule.MayReference.Contains(target.Assembly, StringComparer.Ordinal))
                {
                    violations.Add($"{rule.Assembly} references {target.Assembly}, which its row does not allow ({Names(rule.MayReference)})");
                }
            }
        }

        foreach (var rule in rules)
        {
            if (!graph.ContainsKey(rule.Project))
            {
                violations.Add($"the layer table names {rule.Project}, which does not exist");
            }
        }

        return violations;
    }

    private static string Names(string[] names) => names.Length == 0 ? "it may reference nothing" : "only " + string.Join(", ", names);
}
