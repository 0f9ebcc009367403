using Gateway.Hosting;

namespace Gateway.Tests.Hosting;

/// <summary>
/// Which mappings the post-start trim may drop: only the executable's own read-only private
/// mappings without a copied page; everything writable, shared, copied or of another file stays.
/// </summary>
public sealed class WorkingSetTrimTests
{
    private const string Binary = "/app/gateway";

    private static readonly string[] s_smaps =
    [
        "55e0c0000000-55e0c0042000 r--p 00000000 fd:01 1234                       /app/gateway",
        "Size:                264 kB",
        "Rss:                 264 kB",
        "Anonymous:             0 kB",
        "VmFlags: rd mr mw me dw",
        "55e0c0042000-55e0c11e1000 r-xp 00042000 fd:01 1234                       /app/gateway",
        "Rss:               13208 kB",
        "Anonymous:             0 kB",
        // Relocated by the loader and then made read-only (RELRO): its pages are private copies.
        "55e0c21e2000-55e0c21e4000 r--p 021e1000 fd:01 1234                       /app/gateway",
        "Anonymous:             8 kB",
        "55e0c21e4000-55e0c226e000 rw-p 021e3000 fd:01 1234                       /app/gateway",
        "Anonymous:             0 kB",
        "55e0c3000000-55e0c3100000 r--s 00000000 fd:01 1234                       /app/gateway",
        "Anonymous:             0 kB",
        "7f17fcac5000-7f17fcd42000 r-xp 00000000 fd:01 99                         /usr/lib/x86_64-linux-gnu/libcrypto.so.3",
        "Anonymous:             0 kB",
        "55e0c4000000-55e0c4800000 rw-p 00000000 00:00 0 ",
        "Anonymous:          8192 kB",
        "7ffd00000000-7ffd00021000 r--p 00000000 00:00 0                          [vvar]",
        "Anonymous:             0 kB",
    ];

    [Fact]
    public void CleanReadOnlyMappings_OnlyTheBinarysUnwrittenReadOnlyPrivateMappings()
    {
        var found = WorkingSetTrim.CleanReadOnlyMappings(s_smaps, Binary);

        Assert.Equal([(0x55e0c0000000UL, 0x42000UL), (0x55e0c0042000UL, 0x119f000UL)], found);
    }

    [Fact]
    public void CleanReadOnlyMappings_OtherPath_Nothing()
    {
        Assert.Empty(WorkingSetTrim.CleanReadOnlyMappings(s_smaps, "/app/gateway.dbg"));
    }
}
