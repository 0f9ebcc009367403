using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Gateway.Backends.Torch;

/// <summary>
/// Loads libtorch and libLibTorchSharp explicitly, once per process, before any TorchSharp call.
/// TorchSharp's own loader looks next to <c>Assembly.Location</c>, which is empty under Native AOT
/// (it then throws), and it cannot be pointed at a PyTorch install; loading the libraries by full
/// path first makes its later look-ups by name find them already loaded.
/// </summary>
internal static class TorchRuntime
{
    private const string TorchSharpLibrary = "libLibTorchSharp.so";

    // libtorch's own order: each library's dependencies come before it. The CUDA pair is optional.
    private static readonly (string File, bool Required)[] s_libraries =
    [
        ("libc10.so", true),
        ("libtorch_cpu.so", true),
        ("libc10_cuda.so", false),
        ("libtorch_cuda.so", false),
        ("libtorch.so", true),
    ];

    private static readonly Lock s_lock = new();
    private static string? s_loadedFrom;
    private static nint s_torchSharp;
    private static int s_intraOpThreads;

    [ThreadStatic]
    private static bool t_threadsSet;

    /// <summary>The libtorch directory in use, once loaded.</summary>
    public static string? LoadedFrom => Volatile.Read(ref s_loadedFrom);

    /// <summary>Whether the loaded libtorch has its CUDA libraries.</summary>
    public static bool HasCudaLibraries { get; private set; }

    /// <summary>Whether glibc keeps freed memory for libtorch's next run (<see cref="TorchBackendOptions.RetainAllocatorMemory"/>).</summary>
    public static bool AllocatorRetainsMemory { get; private set; }

    /// <summary>
    /// Loads the native libraries (a no-op once done). A failure is returned, not thrown, names
    /// the directory and the library, and is not remembered, so a later load can retry.
    /// </summary>
    public static bool TryLoad(TorchBackendOptions options, out string error)
    {
        lock (s_lock)
        {
            var directory = ResolveDirectory(options.LibTorchPath);
            if (s_loadedFrom == directory)
            {
                error = string.Empty;
                return true;
            }

            if (!Directory.Exists(directory))
            {
                error = $"the libtorch directory {directory} does not exist (Torch:LibTorchPath)";
                return false;
            }

            foreach (var (file, required) in s_libraries)
            {
                if (required && !File.Exists(Path.Combine(directory, file)))
                {
                    error = $"libtorch was not found: {Path.Combine(directory, file)} does not exist (set Torch:LibTorchPath to a libtorch " +
                        "directory such as a PyTorch install's torch/lib, or publish with the Torch backend's CPU libraries)";
                    return false;
                }
            }

            if (s_loadedFrom is not null)
            {
                error = $"libtorch is already loaded from {s_loadedFrom}; one process holds one libtorch (asked for {directory})";
                return false;
            }

            var cuda = false;
            foreach (var (file, required) in s_libraries)
            {
                var path = Path.Combine(directory, file);
                if (!required && !File.Exists(path))
                {
                    continue;
                }

                if (!TryLoadLibrary(path, out _, out error))
                {
                    return false;
                }

                cuda |= file == "libtorch_cuda.so";
            }

            var sharp = FindTorchSharp(directory);
            if (sharp is null)
            {
                error = $"{TorchSharpLibrary} was found neither in {directory} nor beside the gateway in {AppContext.BaseDirectory}";
                return false;
            }

            if (!TryLoadLibrary(sharp, out var handle, out error))
            {
                return false;
            }

            s_torchSharp = handle;
            SetResolver(typeof(torch).Assembly);
            SetResolver(typeof(TorchRuntime).Assembly);
            try
            {
                // Runs TorchSharp's static initialiser, which now finds everything loaded.
                torch.TryInitializeDeviceType(DeviceType.CPU);
                s_intraOpThreads = options.IntraOpThreads > 0 ? options.IntraOpThreads : torch.get_num_threads();
                torch.set_num_threads(s_intraOpThreads);
            }
            catch (Exception ex) when (ex is ExternalException or TypeInitializationException or EntryPointNotFoundException or NotSupportedException)
            {
                error = $"TorchSharp could not start over libtorch in {directory}: {Innermost(ex).Message}";
                return false;
            }

            HasCudaLibraries = cuda;
            AllocatorRetainsMemory = options.RetainAllocatorMemory && GlibcAllocator.RetainFreedMemory();
            Volatile.Write(ref s_loadedFrom, directory);
            error = string.Empty;
            return true;
        }
    }

    /// <summary>
    /// Applies the intra-op thread count to the calling thread, once per thread. With libtorch's
    /// OpenMP build the count is a per-thread setting (<c>omp_set_num_threads</c>), and oneDNN's
    /// kernels read it before libtorch's own lazy per-thread set-up runs; a request thread that
    /// never set it forms a team of one thread per core, whose workers spin between operators.
    /// </summary>
    public static void ApplyThreadSettings()
    {
        if (!t_threadsSet)
        {
            torch.set_num_threads(s_intraOpThreads);
            t_threadsSet = true;
        }
    }

    /// <summary>
    /// The configured directory, or the first of the binary's directory and the build output's
    /// <c>runtimes/linux-x64/native</c> that holds libtorch (the latter for tests run from <c>bin</c>).
    /// </summary>
    internal static string ResolveDirectory(string? configured)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return Path.TrimEndingDirectorySeparator(Path.GetFullPath(configured));
        }

        var beside = Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory);
        var runtimes = Path.Combine(beside, "runtimes", "linux-x64", "native");
        return !File.Exists(Path.Combine(beside, "libtorch_cpu.so")) && File.Exists(Path.Combine(runtimes, "libtorch_cpu.so"))
            ? runtimes
            : beside;
    }

    private static string? FindTorchSharp(string directory)
    {
        var beside = AppContext.BaseDirectory;
        string[] candidates =
        [
            Path.Combine(directory, TorchSharpLibrary),
            Path.Combine(beside, TorchSharpLibrary),
            Path.Combine(beside, "runtimes", "linux-x64", "native", TorchSharpLibrary),
        ];
        foreach (var candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    private static bool TryLoadLibrary(string path, out nint handle, out string error)
    {
        try
        {
            handle = NativeLibrary.Load(path);
            error = string.Empty;
            return true;
        }
        catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
        {
            // The message ends with dlerror's reason (a missing dependency, an old libstdc++, not
            // an ELF file) on its own line after the runtime's preamble; the path is named already.
            var reason = ex.Message.Trim();
            var newline = reason.LastIndexOf('\n');
            handle = 0;
            error = $"libtorch could not be loaded: {path}: {(newline >= 0 ? reason[(newline + 1)..].Trim() : reason)}";
            return false;
        }
    }

    /// <summary>Points an assembly's <c>DllImport("LibTorchSharp")</c> at the library loaded above.</summary>
    private static void SetResolver(Assembly assembly)
    {
        try
        {
            NativeLibrary.SetDllImportResolver(assembly, static (name, _, _) =>
                name is "LibTorchSharp" or "libLibTorchSharp" or TorchSharpLibrary ? s_torchSharp : 0);
        }
        catch (InvalidOperationException)
        {
            // A resolver is already set (by TorchSharp itself, or an earlier host in this process);
            // look-ups by name still find the library loaded above by its soname.
        }
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null)
        {
            ex = ex.InnerException;
        }

        return ex;
    }
}
