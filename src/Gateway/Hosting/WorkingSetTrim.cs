using System.Runtime.InteropServices;

namespace Gateway.Hosting;

/// <summary>
/// Gives back the resident pages of the gateway binary's read-only mappings (code, read-only
/// data, unwind tables) once start-up is over. Start-up runs code spread over most of the
/// 36 MB binary, and the kernel maps 64 KiB around every page it faults in (fault-around), so
/// about 27 MiB of the binary stays counted in the idle process's RSS although an idle server
/// runs almost none of it. <c>madvise(MADV_DONTNEED)</c> on a private file mapping that was
/// never written only drops the page-table entries: the pages stay in the page cache, and the
/// code a request needs is mapped again on its first use by a minor fault (no disk read).
/// </summary>
/// <remarks>
/// Only mappings of the executable itself that are not writable and hold no private (copied)
/// page are dropped: a page the loader had written (relocations) would lose its contents, so a
/// mapping with any <c>Anonymous</c> kilobytes in <c>/proc/self/smaps</c> is left alone.
/// </remarks>
internal static partial class WorkingSetTrim
{
    // <sys/mman.h>
    private const int MadvDontNeed = 4;

    /// <summary>Drops the binary's clean read-only pages; returns the bytes of mapping advised (0 off Linux or on failure).</summary>
    public static long Trim()
    {
        if (!OperatingSystem.IsLinux() || Environment.ProcessPath is not { Length: > 0 } executable)
        {
            return 0;
        }

        try
        {
            long advised = 0;
            foreach (var (start, length) in CleanReadOnlyMappings(File.ReadLines("/proc/self/smaps"), executable))
            {
                if (Madvise((nint)start, (nuint)length, MadvDontNeed) == 0)
                {
                    advised += (long)length;
                }
            }

            return advised;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or DllNotFoundException or EntryPointNotFoundException)
        {
            return 0;
        }
    }

    /// <summary>
    /// The mappings of <paramref name="path"/> in <c>/proc/self/smaps</c> text that are readable,
    /// not writable, private, and have no anonymous (copied-on-write) page.
    /// </summary>
    internal static List<(ulong Start, ulong Length)> CleanReadOnlyMappings(IEnumerable<string> smaps, string path)
    {
        var found = new List<(ulong, ulong)>();
        (ulong Start, ulong Length)? candidate = null;
        foreach (var line in smaps)
        {
            if (TryParseHeader(line, out var start, out var end, out var perms, out var file))
            {
                candidate = perms.Length == 4 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' && file == path
                    ? (start, end - start)
                    : null;
            }
            else if (candidate is { } mapping && line.StartsWith("Anonymous:", StringComparison.Ordinal))
            {
                if (long.TryParse(line.AsSpan("Anonymous:".Length).Trim().TrimEnd("kB").Trim(), out var anonymous) && anonymous == 0)
                {
                    found.Add(mapping);
                }

                candidate = null;
            }
        }

        return found;
    }

    /// <summary>A mapping's header line: <c>start-end perms offset dev inode [path]</c>.</summary>
    private static bool TryParseHeader(string line, out ulong start, out ulong end, out string perms, out string file)
    {
        start = end = 0;
        perms = file = string.Empty;
        var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        var dash = parts.Length >= 5 ? parts[0].IndexOf('-') : -1;
        if (dash <= 0 || parts[1].Length != 4)
        {
            return false;
        }

        if (!ulong.TryParse(parts[0].AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber, null, out start)
            || !ulong.TryParse(parts[0].AsSpan(dash + 1), System.Globalization.NumberStyles.HexNumber, null, out end))
        {
            return false;
        }

        perms = parts[1];
        file = parts.Length == 6 ? parts[5].Trim() : string.Empty;
        return true;
    }

    [LibraryImport("libc.so.6", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
