using System.Runtime.InteropServices;

namespace Gateway.Backends.Torch;

/// <summary>
/// glibc malloc settings for a process that runs libtorch. libtorch's CPU allocator takes each
/// intermediate tensor from malloc and frees it when the operator is done. With glibc's
/// defaults the blocks of a forward pass (megabytes each) go back to the OS between runs, by
/// munmap or by trimming the thread's arena, and the next run faults them in again: in the
/// gateway's execution thread a mobilenet_v2 forward took 17.7 ms against 11.0 ms with these
/// settings, the difference spent in the kernel's page-fault path (docs/PERFORMANCE.md, "Torch
/// backend on the CPU"). A fixed mmap threshold of 32 MiB (glibc's largest on 64-bit) serves
/// such blocks from the heap, and a trim threshold of 256 MiB keeps them there for the next run.
/// </summary>
internal static partial class GlibcAllocator
{
    public const int MmapThresholdBytes = 32 * 1024 * 1024;
    public const int TrimThresholdBytes = 256 * 1024 * 1024;

    // <malloc.h>
    private const int MTrimThreshold = -1;
    private const int MMmapThreshold = -3;

    /// <summary>Applies the settings; false where the C library is not glibc or refused them.</summary>
    public static bool RetainFreedMemory()
    {
        try
        {
            var mmap = Mallopt(MMmapThreshold, MmapThresholdBytes);
            var trim = Mallopt(MTrimThreshold, TrimThresholdBytes);
            return mmap == 1 && trim == 1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    // mallopt returns 1 on success and 0 on error.
    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);
}
