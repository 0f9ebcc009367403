using System.Text;
using Gateway.Testing;

namespace Gateway.FuzzTests;

/// <summary>
/// The checked-in bad-input and attack corpus under <c>tests/fixtures/fuzz</c>: every input the
/// fuzzer or a reader of the code found, kept as a regression case, plus attacks on the HTTP layer.
/// <c>infer/*.case</c> and <c>auth/*.case</c> are "key: value" lines, a "---" line, then the body
/// as raw bytes; <c>jwt/*.txt</c> a token; <c>config/*.json</c> a config.json; <c>http/*.http</c>
/// a raw HTTP/1.1 request in which {{TOKEN}} stands for an admin's access token.
/// </summary>
internal static class Corpus
{
    public static string Directory => Path.Combine(ReferenceModels.RepositoryRoot, "tests", "fixtures", "fuzz");

    public sealed record Case(string Name, IReadOnlyDictionary<string, string> Fields, byte[] Body)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<string> Files(string kind, string pattern) =>
        System.IO.Directory.EnumerateFiles(Path.Combine(Directory, kind), pattern).Order(StringComparer.Ordinal);

    public static Case Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var separator = "---\n"u8;
        var at = bytes.AsSpan().IndexOf(separator);
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in Encoding.UTF8.GetString(bytes, 0, at).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            fields[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        return new Case(Path.GetFileNameWithoutExtension(path), fields, bytes[(at + separator.Length)..]);
    }

    public static IEnumerable<Case> Infer() => Files("infer", "*.case").Select(Read);

    public static IEnumerable<Case> Auth() => Files("auth", "*.case").Select(Read);

    public static IEnumerable<(string Name, string Token)> Jwt() =>
        Files("jwt", "*.txt").Select(static f => (Path.GetFileNameWithoutExtension(f), File.ReadAllText(f).TrimEnd('\n')));

    public static IEnumerable<(string Name, byte[] Config)> Config() =>
        Files("config", "*.json").Select(static f => (Path.GetFileNameWithoutExtension(f), File.ReadAllBytes(f)));

    public static IEnumerable<(string Name, byte[] Request)> Http() =>
        Files("http", "*.http").Select(static f => (Path.GetFileNameWithoutExtension(f), File.ReadAllBytes(f)));
}
