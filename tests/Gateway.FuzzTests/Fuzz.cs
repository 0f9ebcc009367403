using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Gateway.Testing;

namespace Gateway.FuzzTests;

/// <summary>What one fuzz run did: executions, distinct outcomes, the slowest execution, memory.</summary>
internal sealed record FuzzReport(string Target, ulong Seed, long Executions, double Seconds, int DistinctOutcomes, double SlowestMilliseconds, long RetainedBytes)
{
    public override string ToString() =>
        $"{Target}: seed {Seed}, {Executions} executions in {Seconds:F1} s ({Executions / Math.Max(Seconds, 0.001):F0}/s), " +
        $"{DistinctOutcomes} distinct outcomes, slowest {SlowestMilliseconds:F1} ms, heap after a full collection {RetainedBytes / 1024:+#,0;-#,0;0} KiB from before";
}

/// <summary>
/// The fuzz loop. In the test command a run draws a fixed sequence of cases (seed per target,
/// PCG stream 1, case i from seed + i) for a fixed number of executions, stopping early at a time
/// cap so a slow machine stays bounded. <c>./build.sh fuzz</c> sets GATEWAY_FUZZ_SECONDS (run that
/// long) and optionally GATEWAY_FUZZ_SEED (else a random seed, printed). A case that breaks the
/// property is shrunk by CsCheck from its own seed to a minimal one, written under
/// artifacts/fuzz/findings, and fails the test with both.
/// </summary>
internal static partial class Fuzz
{
    /// <summary>An execution slower than this is a hang (generous: the machine may be shared).</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(5);

    public static bool LongMode => Environment.GetEnvironmentVariable("GATEWAY_FUZZ_SECONDS") is { Length: > 0 };

    public static string ArtifactsDirectory
    {
        get
        {
            var path = Path.Combine(ReferenceModels.RepositoryRoot, "artifacts", "fuzz");
            Directory.CreateDirectory(path);
            return path;
        }
    }

    /// <summary>
    /// Runs <paramref name="check"/> over cases drawn from <paramref name="gen"/>. The check throws
    /// when the property fails and otherwise returns the outcome (an error message, a status), whose
    /// shape, numbers and quoted text removed, is counted as one distinct outcome.
    /// </summary>
    public static FuzzReport Run<T>(string target, Gen<T> gen, Func<T, string> check, Func<T, string> print, int executions, double capSeconds, long maxRetainedBytes = 64L << 20)
    {
        var seed = Environment.GetEnvironmentVariable("GATEWAY_FUZZ_SEED") is { Length: > 0 } given
            ? ulong.Parse(given, CultureInfo.InvariantCulture)
            : LongMode ? (ulong)Random.Shared.NextInt64() : StableSeed(target);
        if (LongMode)
        {
            capSeconds = double.Parse(Environment.GetEnvironmentVariable("GATEWAY_FUZZ_SECONDS")!, CultureInfo.InvariantCulture);
            executions = int.MaxValue;
        }

        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        var before = HeapAfterCollection();
        var clock = Stopwatch.StartNew();
        var slowest = 0.0;
        long done = 0;
        T current = default!;
        var currentSeed = string.Empty;
        var loop = Task.Factory.StartNew(() =>
        {
            for (var i = 0; i < executions && clock.Elapsed.TotalSeconds < capSeconds; i++)
            {
                var pcg = new PCG(1, seed + (ulong)i);
                var caseSeed = pcg.ToString();
                var value = gen.Generate(pcg, null, out _);
                current = value;
                currentSeed = caseSeed;
                var started = clock.Elapsed;
                string outcome;
                try
                {
                    outcome = check(value);
                }
                catch (Exception ex)
                {
                    throw Finding(target, gen, check, print, value, caseSeed, ex);
                }

                var took = (clock.Elapsed - started).TotalMilliseconds;
                slowest = Math.Max(slowest, took);
                if (took > HangLimit.TotalMilliseconds)
                {
                    throw Finding(target, gen, check, print, value, caseSeed, new TimeoutException($"one execution took {took:F0} ms"));
                }

                var shape = Shape(outcome);
                outcomes[shape] = outcomes.GetValueOrDefault(shape) + 1;
                done++;
            }
        }, TaskCreationOptions.LongRunning);

        // A hang inside one execution never returns to the loop: the whole run has a deadline.
        if (!loop.Wait(TimeSpan.FromSeconds(capSeconds) + HangLimit * 4))
        {
            var file = Path.Combine(ArtifactsDirectory, "findings", $"{target}-hang-{currentSeed}.txt");
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            File.WriteAllText(file, $"hung (case seed {currentSeed}):\n{print(current)}\n");
            throw new TimeoutException($"{target}: the fuzz loop hung after {done} executions (seed {seed}), in this case (written to {file}):\n{print(current)}");
        }

        loop.GetAwaiter().GetResult();
        var report = new FuzzReport(target, seed, done, clock.Elapsed.TotalSeconds, outcomes.Count, slowest, HeapAfterCollection() - before);
        Record(report, outcomes);
        if (report.RetainedBytes > maxRetainedBytes)
        {
            throw new InvalidOperationException($"{target}: the heap holds {report.RetainedBytes} bytes more after the run than before (limit {maxRetainedBytes}): {report}");
        }

        return report;
    }

    /// <summary>The same seed for a target on every run of the test command.</summary>
    public static ulong StableSeed(string target)
    {
        ulong hash = 14695981039346656037;
        foreach (var c in target)
        {
            hash = (hash ^ c) * 1099511628211;
        }

        return hash % 1_000_000_007;
    }

    private static long HeapAfterCollection()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    /// <summary>An outcome with numbers and quoted text removed: "input 'X': element # of 'data' ...".</summary>
    public static string Shape(string outcome) => JsonPath().Replace(Quoted().Replace(Digits().Replace(outcome, "#"), "'…'"), "$…");

    [GeneratedRegex(@"\$[\w.\[\]'#-]*")]
    private static partial Regex JsonPath();

    [GeneratedRegex("[0-9]+")]
    private static partial Regex Digits();

    [GeneratedRegex("'[^']*'|\"[^\"]*\"")]
    private static partial Regex Quoted();

    private static InvalidOperationException Finding<T>(string target, Gen<T> gen, Func<T, string> check, Func<T, string> print, T value, string caseSeed, Exception failure)
    {
        // CsCheck reruns the case from its seed and shrinks it to the fewest, smallest mutations.
        string shrunk;
        try
        {
            gen.Sample(v => { check(v); }, seed: caseSeed, iter: 2000, threads: 1, print: print);
            shrunk = "(CsCheck did not reproduce it from the seed)";
        }
        catch (Exception ex)
        {
            shrunk = ex.Message;
        }

        var file = Path.Combine(ArtifactsDirectory, "findings", $"{target}-{caseSeed}.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, $"{failure}\n\ncase (seed {caseSeed}):\n{print(value)}\n\nshrunk:\n{shrunk}\n");
        return new InvalidOperationException($"{target}: the property failed (written to {file}):\n{print(value)}\n{failure}\n\nshrunk: {shrunk}", failure);
    }

    private static void Record(FuzzReport report, Dictionary<string, int> outcomes)
    {
        var text = new StringBuilder().AppendLine(report.ToString());
        foreach (var (shape, count) in outcomes.OrderByDescending(p => p.Value))
        {
            text.Append(CultureInfo.InvariantCulture, $"  {count,8}  {shape}").AppendLine();
        }

        File.WriteAllText(Path.Combine(ArtifactsDirectory, report.Target + ".txt"), text.ToString());
        Console.WriteLine(report);
    }
}
