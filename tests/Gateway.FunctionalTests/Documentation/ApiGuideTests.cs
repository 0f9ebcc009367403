using System.Diagnostics;
using System.Text;
using Gateway.Testing;

namespace Gateway.FunctionalTests.Documentation;

/// <summary>
/// Runs every <c>sh</c> block of docs/API.md, in order, in one bash against a real gateway
/// serving the sample models of <c>models/</c>, and checks each <c># =&gt;</c> line against what
/// the commands of its block printed (<c>…</c> matches anything). The guide's curl lines are
/// therefore what the server really answers.
/// </summary>
public sealed class ApiGuideTests
{
    private const string Expect = "# => ";
    private const string Marker = "@@api-guide-block ";

    [Fact]
    public async Task EveryExampleInApiMd_RunsAndPrintsWhatTheGuideSays()
    {
        var guide = await File.ReadAllTextAsync(Path.Combine(ReferenceModels.RepositoryRoot, "docs", "API.md"));
        var blocks = Blocks(guide);
        Assert.True(blocks.Count >= 10, $"only {blocks.Count} sh blocks in docs/API.md");

        var repository = CopyModels();
        var scratch = Directory.CreateTempSubdirectory("api-guide-").FullName;
        try
        {
            await using var server = await GatewayServer.StartAsync(repository);
            var script = new StringBuilder("set -eu\n");
            for (var i = 0; i < blocks.Count; i++)
            {
                script.Append("printf '\\n").Append(Marker).Append(i).Append("\\n'\n");
                // The guide's scratch files go to this run's own directory.
                script.Append(blocks[i].Replace("/tmp/", scratch + "/", StringComparison.Ordinal)).Append('\n');
            }

            script.Append("printf '\\n").Append(Marker).Append("end\\n'\n");
            var (code, output) = await RunBashAsync(script.ToString(), server.Address.ToString().TrimEnd('/'), scratch);
            Assert.True(code == 0, $"the guide's commands failed (exit {code}):\n{output}");

            var checkedLines = 0;
            for (var i = 0; i < blocks.Count; i++)
            {
                var start = output.IndexOf(Marker + i + "\n", StringComparison.Ordinal);
                var end = output.IndexOf(Marker + (i + 1 < blocks.Count ? (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture) : "end") + "\n", StringComparison.Ordinal);
                Assert.True(start >= 0 && end > start, $"block {i} did not run to its end:\n{output}");
                var printed = output[start..end];
                var position = 0;
                foreach (var line in blocks[i].Split('\n'))
                {
                    var trimmed = line.TrimStart();
                    if (!trimmed.StartsWith(Expect, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    var expected = trimmed[Expect.Length..];
                    var found = Find(printed, expected, position);
                    Assert.True(found >= 0, $"docs/API.md block {i}: expected\n  {expected}\nin what it printed:\n{printed[position..]}");
                    position = found;
                    checkedLines++;
                }
            }

            Assert.True(checkedLines >= 60, $"only {checkedLines} expected lines checked");
        }
        finally
        {
            Directory.Delete(repository, recursive: true);
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>The contents of the ```sh blocks.</summary>
    private static List<string> Blocks(string markdown)
    {
        var blocks = new List<string>();
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        StringBuilder? current = null;
        foreach (var line in lines)
        {
            if (current is null && line == "```sh")
            {
                current = new StringBuilder();
            }
            else if (current is not null && line == "```")
            {
                blocks.Add(current.ToString());
                current = null;
            }
            else
            {
                current?.Append(line).Append('\n');
            }
        }

        return blocks;
    }

    /// <summary>
    /// Where <paramref name="expected"/> occurs in <paramref name="text"/> from <paramref name="from"/>
    /// on, with <c>…</c> matching any run of characters within one line; the index just after it, or -1.
    /// </summary>
    private static int Find(string text, string expected, int from)
    {
        var parts = expected.Split('…');
        for (var start = text.IndexOf(parts[0], from, StringComparison.Ordinal); start >= 0; start = text.IndexOf(parts[0], start + 1, StringComparison.Ordinal))
        {
            var lineEnd = text.IndexOf('\n', start);
            lineEnd = lineEnd < 0 ? text.Length : lineEnd;
            var position = start + parts[0].Length;
            var matched = true;
            for (var p = 1; p < parts.Length && matched; p++)
            {
                var next = parts[p].Length == 0 ? position : text.IndexOf(parts[p], position, lineEnd - position, StringComparison.Ordinal);
                matched = next >= 0;
                position = matched ? next + parts[p].Length : position;
            }

            if (matched)
            {
                return position;
            }
        }

        return -1;
    }

    /// <summary>A copy of models/, the repository ./build.sh run serves, so the guide's unload and reload touch nothing shared.</summary>
    private static string CopyModels()
    {
        var source = Path.Combine(ReferenceModels.RepositoryRoot, "models");
        var target = Directory.CreateTempSubdirectory("api-guide-models-").FullName;
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }

        return target;
    }

    private static async Task<(int Code, string Output)> RunBashAsync(string script, string address, string scratch)
    {
        var file = Path.Combine(scratch, "guide.sh");
        await File.WriteAllTextAsync(file, script);
        var info = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = scratch,
        };
        info.ArgumentList.Add(file);
        info.Environment["GW"] = address;
        info.Environment["ADMIN_PASSWORD"] = GatewayServer.AdminPassword;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the guide's commands did not finish in 3 minutes:\n{await stdout}\n{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
