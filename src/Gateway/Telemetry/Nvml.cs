using System.Runtime.InteropServices;
using System.Text;

namespace Gateway.Telemetry;

/// <summary>One GPU's reading.</summary>
internal readonly record struct GpuSample(string Name, double Utilisation, ulong MemoryUsed, ulong MemoryTotal);

/// <summary>
/// NVIDIA's management library, loaded at run time if present: utilisation and memory per GPU.
/// The library is looked up with <see cref="NativeLibrary.TryLoad(string, out IntPtr)"/> and
/// called through function pointers, so a machine without it (no driver, no GPU) is simply a
/// machine without GPU metrics: no exception, no warning, nothing exported.
/// </summary>
internal sealed unsafe partial class Nvml : IDisposable
{
    private const int Success = 0;
    private readonly IntPtr _library;
    private readonly delegate* unmanaged<int> _shutdown;
    private readonly delegate* unmanaged<IntPtr, Utilization*, int> _utilization;
    private readonly delegate* unmanaged<IntPtr, Memory*, int> _memory;
    private readonly IntPtr[] _devices;
    private readonly string[] _names;
    private int _disposed;

    private Nvml(IntPtr library, delegate* unmanaged<int> shutdown, delegate* unmanaged<IntPtr, Utilization*, int> utilization,
        delegate* unmanaged<IntPtr, Memory*, int> memory, IntPtr[] devices, string[] names)
    {
        _library = library;
        _shutdown = shutdown;
        _utilization = utilization;
        _memory = memory;
        _devices = devices;
        _names = names;
    }

    public int DeviceCount => _devices.Length;

    /// <summary>Loads and initialises NVML; null when it is absent or reports no GPU.</summary>
    public static Nvml? TryOpen(string libraryName, ILogger logger)
    {
        if (!NativeLibrary.TryLoad(libraryName, out var library))
        {
            return null;
        }

        if (!NativeLibrary.TryGetExport(library, "nvmlInit_v2", out var init)
            || !NativeLibrary.TryGetExport(library, "nvmlShutdown", out var shutdown)
            || !NativeLibrary.TryGetExport(library, "nvmlDeviceGetCount_v2", out var count)
            || !NativeLibrary.TryGetExport(library, "nvmlDeviceGetHandleByIndex_v2", out var handle)
            || !NativeLibrary.TryGetExport(library, "nvmlDeviceGetName", out var name)
            || !NativeLibrary.TryGetExport(library, "nvmlDeviceGetUtilizationRates", out var utilization)
            || !NativeLibrary.TryGetExport(library, "nvmlDeviceGetMemoryInfo", out var memory))
        {
            Log.Unusable(logger, libraryName, "a required function is missing");
            NativeLibrary.Free(library);
            return null;
        }

        var status = ((delegate* unmanaged<int>)init)();
        if (status != Success)
        {
            Log.Unusable(logger, libraryName, $"nvmlInit returned {status}");
            NativeLibrary.Free(library);
            return null;
        }

        uint devices;
        if (((delegate* unmanaged<uint*, int>)count)(&devices) != Success || devices == 0)
        {
            ((delegate* unmanaged<int>)shutdown)();
            NativeLibrary.Free(library);
            return null;
        }

        var handles = new IntPtr[devices];
        var names = new string[devices];
        var buffer = stackalloc byte[96];
        for (uint i = 0; i < devices; i++)
        {
            IntPtr device;
            if (((delegate* unmanaged<uint, IntPtr*, int>)handle)(i, &device) != Success)
            {
                ((delegate* unmanaged<int>)shutdown)();
                NativeLibrary.Free(library);
                return null;
            }

            handles[i] = device;
            names[i] = ((delegate* unmanaged<IntPtr, byte*, uint, int>)name)(device, buffer, 96) == Success
                ? Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(buffer))
                : "unknown";
        }

        Log.Found(logger, (int)devices, string.Join(", ", names));
        return new Nvml(library, (delegate* unmanaged<int>)shutdown, (delegate* unmanaged<IntPtr, Utilization*, int>)utilization,
            (delegate* unmanaged<IntPtr, Memory*, int>)memory, handles, names);
    }

    /// <summary>Reads one GPU; false if NVML refused (the GPU fell off the bus, for instance).</summary>
    public bool TryRead(int index, out GpuSample sample)
    {
        Utilization utilization;
        Memory memory;
        if (Volatile.Read(ref _disposed) != 0 || _utilization(_devices[index], &utilization) != Success || _memory(_devices[index], &memory) != Success)
        {
            sample = default;
            return false;
        }

        sample = new GpuSample(_names[index], utilization.Gpu / 100.0, memory.Used, memory.Total);
        return true;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _shutdown();
            NativeLibrary.Free(_library);
        }
    }

    /// <summary><c>nvmlUtilization_t</c>: percentages over the last sample period.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Utilization
    {
        public uint Gpu;
        public uint Memory;
    }

    /// <summary><c>nvmlMemory_t</c>: bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Memory
    {
        public ulong Total;
        public ulong Free;
        public ulong Used;
    }

    private static partial class Log
    {
        [LoggerMessage(610, LogLevel.Information, "NVML found {Count} GPU(s): {Names}; GPU metrics are on")]
        public static partial void Found(ILogger logger, int count, string names);

        [LoggerMessage(611, LogLevel.Warning, "NVML library {Library} is present but unusable ({Reason}); no GPU metrics")]
        public static partial void Unusable(ILogger logger, string library, string reason);
    }
}
