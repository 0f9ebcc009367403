using Gateway.Testing;
using Xunit.Abstractions;

namespace Gateway.DeployTests.Engine;

/// <summary>
/// What the stack tests observed, for docs/RUNBOOK.md: each test's lines go to its own output
/// and to artifacts/deploy-tests/observed.md (appended), where the fault tables are kept.
/// </summary>
internal static class Report
{
    private static readonly Lock s_lock = new();

    public static string Path => System.IO.Path.Combine(ReferenceModels.RepositoryRoot, "artifacts", "deploy-tests", "observed.md");

    public static void Write(ITestOutputHelper output, string text)
    {
        output.WriteLine(text);
        lock (s_lock)
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
            File.AppendAllText(Path, text + "\n");
        }
    }

    /// <summary>The header of a fault table (the RUNBOOK's columns).</summary>
    public const string TableHeader = "| fault | sent | answered | 200 | other answers and errors | not answered | writes lost |\n|---|--:|--:|--:|---|--:|---|";
}
