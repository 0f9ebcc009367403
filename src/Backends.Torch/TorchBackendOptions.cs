namespace Gateway.Backends.Torch;

/// <summary>
/// Process-wide settings of the Torch backend, under <c>Torch</c> in the gateway's configuration
/// (<c>--Torch:LibTorchPath=/path</c>, environment <c>Torch__LibTorchPath</c>). The host binds and
/// validates them at start-up and hands them to <see cref="TorchBackend"/>: backends know nothing
/// of the configuration system.
/// </summary>
public sealed class TorchBackendOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Torch";

    /// <summary>
    /// Directory holding libtorch's shared libraries (<c>libc10.so</c>, <c>libtorch_cpu.so</c>,
    /// <c>libtorch.so</c> and, for CUDA, <c>libc10_cuda.so</c> and <c>libtorch_cuda.so</c>), such as
    /// a PyTorch install's <c>torch/lib</c>. Null: the CPU build published beside the binary.
    /// </summary>
    public string? LibTorchPath { get; set; }

    /// <summary>
    /// Threads libtorch uses inside one operator (<c>torch.set_num_threads</c>); process-wide.
    /// 0 keeps libtorch's default (one per physical core).
    /// </summary>
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// Keeps the memory libtorch frees for its next run instead of handing it back to the OS
    /// (glibc <c>mallopt</c>: allocations up to 32 MiB from the heap, trimmed only past 256 MiB
    /// free). With glibc's defaults every forward pass faults in fresh pages for its intermediate
    /// tensors; see <see cref="GlibcAllocator"/>. Process-wide, applied when libtorch loads.
    /// </summary>
    public bool RetainAllocatorMemory { get; set; } = true;

    /// <summary>Checks the values; returns the first problem, naming its key, or null.</summary>
    public string? Validate()
    {
        if (LibTorchPath is not null && string.IsNullOrWhiteSpace(LibTorchPath))
        {
            return $"{SectionName}:LibTorchPath must name a directory when it is given";
        }

        if (IntraOpThreads is < 0 or > 1024)
        {
            return $"{SectionName}:IntraOpThreads must be from 0 to 1024 (got {IntraOpThreads})";
        }

        return null;
    }
}
